import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { enqueueMail } from '../src/functions/enqueue.js';
import { DeadLetters } from '../local/console/dead-letters.js';
import { requeueDeadLetter } from '../src/queue/requeue.js';
import { sandboxScenarios } from '../local/sandbox/index.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { drain, startQueueFixture, type QueueFixture } from './queue-fixture.js';

describe('a dead letter put back on the intake queue', () => {
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

  /** A request from billing@ while the mailbox has no Send As on it: dead-lettered at once. */
  async function deadLettered(id: string): Promise<void> {
    sandboxScenarios['send-as-denied'](h.sandbox);
    h.sandbox.exchange.setLimits({ messagesPerMinute: 0 });
    const reply = await h.http(enqueueMail, {
      route: 'enqueue',
      body: mailRequest({ from: 'billing@contoso.example', idempotencyKey: id }),
    });
    assert.equal(reply.status, 202);
    q.startListener();
    const [record] = await q.waitUntilFinished([id]);
    assert.equal(record?.status, 'failed');
    await q.stopListeners();
  }

  it('when the cause is fixed and the letter is put back, then it is sent once, its history kept, and the letter is gone', async () => {
    await deadLettered('requeue-1');
    sandboxScenarios.healthy(h.sandbox);
    h.sandbox.exchange.setLimits({ messagesPerMinute: 0 });
    const letters = new DeadLetters(q.storage, q.store);
    const [view] = await letters.list();
    assert.equal(view?.letter?.['id'], 'requeue-1');
    assert.equal(view?.notRequeueable, undefined);

    const digest = (await q.store.get('requeue-1'))?.digest;
    assert.ok(digest, 'the enqueued request left its content digest');
    const before = h.sandbox.exchange.messages.length;
    const result = await letters.requeue(view.messageId);
    assert.deepEqual(result, { outcome: { kind: 'requeued', id: 'requeue-1' } });
    const reopened = await q.store.get('requeue-1');
    assert.equal(reopened?.status, 'queued');
    assert.equal(
      reopened?.digest,
      digest,
      'the key still names the same content: other content under it is still a 409',
    );
    assert.deepEqual(await letters.list(), [], 'the letter is off the poison queue');
    assert.equal(await letters.requeue(view.messageId), undefined, 'a second click finds nothing to put back');

    q.startListener();
    const [record] = await q.waitUntilFinished(['requeue-1']);
    assert.equal(record?.status, 'sent');
    assert.equal(record?.attempts, 1, 'its tries are counted afresh');
    assert.deepEqual(
      record?.history.map((a) => a.code),
      ['SEND_AS_DENIED', 'REQUEUED'],
    );
    assert.equal(h.sandbox.exchange.messages.length - before, 1);
    assert.equal(h.sandbox.exchange.messages.at(-1)?.envelope.mailFrom, 'billing@contoso.example');
  });

  it('when the same letter is put back twice (two consoles), then the request is queued and sent only once', async () => {
    await deadLettered('requeue-2');
    sandboxScenarios.healthy(h.sandbox);
    h.sandbox.exchange.setLimits({ messagesPerMinute: 0 });
    const [letter] = await drain(q.storage, 'poison');
    const outcomes = await Promise.all([
      requeueDeadLetter(q.storage, q.store, letter),
      requeueDeadLetter(q.storage, q.store, letter),
    ]);
    assert.deepEqual(outcomes.map((o) => o.kind).sort(), ['not-failed', 'requeued']);
    const queued = await q.storage.intake.peekMessages({ numberOfMessages: 32 });
    assert.equal(queued.peekedMessageItems.length, 1, 'one copy on the intake queue');

    const before = h.sandbox.exchange.messages.length;
    q.startListener();
    await q.waitUntilFinished(['requeue-2']);
    // a third put-back after it was sent changes nothing
    assert.deepEqual(await requeueDeadLetter(q.storage, q.store, letter), {
      kind: 'not-failed',
      id: 'requeue-2',
      status: 'sent',
    });
    assert.equal(h.sandbox.exchange.messages.length - before, 1);
  });

  it('when a letter holds no request (an undecodable message), then it cannot be put back and stays', async () => {
    await q.storage.intake.sendMessage('not base64 and not JSON');
    q.startListener();
    const letters = new DeadLetters(q.storage, q.store);
    let views = await letters.list();
    for (let i = 0; views.length === 0 && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      views = await letters.list();
    }
    const [view] = views;
    assert.equal(view?.letter?.['code'], 'UNDECODABLE');
    assert.match(view?.notRequeueable ?? '', /does not hold the request/);
    const result = await letters.requeue(view.messageId);
    assert.ok(result && 'refused' in result);
    assert.equal((await letters.list()).length, 1, 'the letter is still there');
  });
});
