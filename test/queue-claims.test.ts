import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { enqueueMail } from '../src/functions/enqueue.js';
import { parseMailRequest } from '../src/mail/parse-request.js';
import { enqueueRequest } from '../src/queue/enqueue.js';
import { processQueueMessage, type QueueDeps, type QueueOutcome } from '../src/pipeline/process-queue-message.js';
import { encodeQueueMessage } from '../src/queue/queue-message.js';
import { StatusStore } from '../src/queue/status-store.js';
import { connectStorage } from '../src/storage/storage.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';

/**
 * Holds the answers to the first `parties` reads of a status record until all of them have been
 * read: every delivery then decides on the same version of the record, as two workers that read it
 * in the same millisecond do. The race is on the wire, so Azurite still judges every write.
 */
function readBarrier(parties: number): PipelinePolicy {
  const waiting: (() => void)[] = [];
  let armed = parties;
  return {
    name: 'read-barrier',
    async sendRequest(request, next) {
      const response = await next(request);
      if (request.method !== 'GET' || !/exosendmessages\(/.test(request.url) || armed === 0) return response;
      armed--;
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === parties) for (const release of waiting.splice(0)) release();
      });
      return response;
    },
  };
}

describe('the queue claim on a record that already exists', () => {
  let h: Harness;
  let q: QueueFixture;
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
  });
  after(async () => {
    await q.close();
    await h.close();
  });
  beforeEach(() => q.reset());

  /** The queue path's parts as the app builds them, with reads of the status records raced. */
  const racedDeps = (parties: number): QueueDeps => {
    const { config, sender } = getRuntime();
    const storage = connectStorage(q.azurite.connectionString, config.queue);
    storage.records.pipeline.addPolicy(readBarrier(parties));
    return { config, sender, storage, store: new StatusStore(storage.records) };
  };
  const sentWith = (subject: string) =>
    h.sandbox.exchange.messages.filter((m) => m.raw.toString().includes(`Subject: ${subject}`));
  const race = (body: string, deps: QueueDeps): Promise<QueueOutcome[]> =>
    Promise.all([1, 2].map((n) => processQueueMessage(body, `q-${n}`, deps)));

  it('when two deliveries race for a message /api/enqueue recorded as queued, then only one claims it and it is sent once', async () => {
    const reply = await h.http(enqueueMail, {
      route: 'enqueue',
      body: mailRequest({ idempotencyKey: 'raced-queued', subject: 'raced-queued' }),
    });
    assert.equal(
      (await q.store.get('raced-queued'))?.status,
      'queued',
      'the race is on an existing record, not on its creation',
    );
    const { receivedMessageItems } = await q.storage.intake.receiveMessages();
    const body = receivedMessageItems[0]!.messageText;

    const outcomes = await race(body, racedDeps(2));
    assert.deepEqual(outcomes.map((o) => o.kind).sort(), ['in-flight', 'sent'], JSON.stringify(outcomes));
    assert.equal(sentWith('raced-queued').length, 1, 'Exchange received it once');
    const record = await q.store.get(reply.body.id);
    assert.equal(record?.status, 'sent');
    assert.equal(record?.attempts, 1);
  });

  it('when two deliveries race to take over a send whose worker died (lease over), then only one sends it again', async () => {
    await q.storage.ready();
    await q.storage.records.upsertEntity(
      {
        partitionKey: 'raced-expired',
        rowKey: '',
        status: 'sending',
        attempts: 1,
        history: '[]',
        leaseUntil: Date.now() - 1000,
        updatedAt: new Date().toISOString(),
      },
      'Replace',
    );
    const body = encodeQueueMessage({
      exosend: 1,
      id: 'raced-expired',
      history: [],
      request: mailRequest({ subject: 'raced-expired' }),
    });

    const outcomes = await race(body, racedDeps(2));
    assert.deepEqual(outcomes.map((o) => o.kind).sort(), ['in-flight', 'sent'], JSON.stringify(outcomes));
    assert.equal(sentWith('raced-expired').length, 1);
    assert.equal((await q.store.get('raced-expired'))?.attempts, 2);
  });

  it('when a request is enqueued again after it was sent (a producer retrying), then its record still says sent and no delivery sends it twice', async () => {
    const deps = racedDeps(0);
    const request = parseMailRequest(mailRequest({ subject: 'enqueued-twice' }), deps.config);
    await enqueueRequest(deps.storage, deps.store, request, 'enqueued-twice');
    const first = await q.storage.intake.receiveMessages();
    assert.equal((await processQueueMessage(first.receivedMessageItems[0]!.messageText, 'q-1', deps)).kind, 'sent');

    await enqueueRequest(deps.storage, deps.store, request, 'enqueued-twice');
    assert.equal(
      (await deps.store.get('enqueued-twice'))?.status,
      'sent',
      'the second enqueue did not reset the record',
    );
    const second = await q.storage.intake.receiveMessages();
    assert.equal(
      (await processQueueMessage(second.receivedMessageItems[0]!.messageText, 'q-2', deps)).kind,
      'duplicate',
    );
    assert.equal(sentWith('enqueued-twice').length, 1);
  });
});
