import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { outboundMail } from '../src/functions/outbound-queue.js';
import { encodeQueueMessage } from '../src/queue/queue-message.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { drain, startQueueFixture, type QueueFixture } from './queue-fixture.js';

const concurrencyLimit = '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded';

describe('the queue retry budget', () => {
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

  /** Exchange answers every MAIL FROM of messages with this subject with a transient 432. */
  const alwaysBusyFor = (subject: string) =>
    h.sandbox.exchange.setFaultInjector((context) =>
      context.stage === 'data' && context.raw?.toString().includes(`Subject: ${subject}`)
        ? { reply: concurrencyLimit }
        : undefined,
    );
  const busyReplies = () => h.sandbox.exchange.counters.replies.filter((r) => r.code === 432).length;
  const events = (event: string, id: string) =>
    h.logs
      .filter((line) => line.includes(`"event":"exosend.queue.${event}"`) && line.includes(`"id":"${id}"`))
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  for (const [setting, attempts] of [
    [undefined, 8],
    ['3', 3],
  ] as const) {
    it(`when Exchange stays busy and EXOSEND_QUEUE_MAX_ATTEMPTS is ${setting ?? 'not set'}, then the message is tried ${attempts} times, then dead-lettered with every try in its history`, async () => {
      h.restartApp({ ...q.settings, EXOSEND_QUEUE_MAX_ATTEMPTS: setting });
      const id = `budget-${attempts}`;
      alwaysBusyFor(id);
      await q.storage.intake.sendMessage(encodeQueueMessage(mailRequest({ idempotencyKey: id, subject: id })));
      q.startListener();
      // a budget that is never spent loops for ever: this wait is what fails then
      const [record] = await q.waitUntilFinished([id], 30_000);
      assert.equal(record?.status, 'failed');
      assert.equal(record?.attempts, attempts);
      assert.equal(busyReplies(), attempts, 'Exchange saw each try once');
      const [letter] = await drain(q.storage, 'poison');
      assert.equal(letter.id, id);
      assert.equal(letter.code, 'CONCURRENCY_LIMIT');
      assert.equal(letter.attempts, attempts);
      assert.deepEqual(
        letter.history.map((a: { code: string }) => a.code),
        Array(attempts).fill('CONCURRENCY_LIMIT'),
      );
      assert.equal(events('retry', id).length, attempts - 1);
    });
  }

  it('when Key Vault throttles with Retry-After, then the queued retry waits at least that long, and is sent once it may', async () => {
    // the SDK's own retries wait 20 ms each and fail too: the delivery fails with VAULT_UNREACHABLE, retry after 1 s
    h.sandbox.vault.failRequests(1000, 429, 20);
    const id = 'vault-throttled';
    const body = encodeQueueMessage({ exosend: 1, id, history: [], request: mailRequest({ subject: id }) });
    await outboundMail(body, h.context('outbound-mail', { id: 'q-1', dequeueCount: 1 }));

    const [retry] = events('retry', id);
    assert.equal(retry?.code, 'VAULT_UNREACHABLE', JSON.stringify(retry));
    assert.equal(retry?.delaySeconds, 1, "the delay is the vault's Retry-After, not the base of 0 s");
    const { approximateMessagesCount } = await q.storage.intake.getProperties();
    const visible = await q.storage.intake.peekMessages();
    assert.equal(approximateMessagesCount, 1, 'the retry is queued');
    assert.equal(visible.peekedMessageItems.length, 0, "and invisible until the vault's Retry-After has passed");

    h.sandbox.vault.failRequests(0);
    q.startListener();
    const [record] = await q.waitUntilFinished([id]);
    assert.equal(record?.status, 'sent');
    assert.equal(record?.attempts, 2);
  });

  it('when nothing sets the retry base, then a transient failure comes back after the shipped 30 s, not at once', async () => {
    h.restartApp({ ...q.settings, EXOSEND_QUEUE_RETRY_BASE_SECONDS: undefined });
    h.sandbox.exchange.failNext('mail', concurrencyLimit);
    const id = 'default-base';
    const body = encodeQueueMessage({ exosend: 1, id, history: [], request: mailRequest({ subject: id }) });
    await outboundMail(body, h.context('outbound-mail', { id: 'q-1', dequeueCount: 1 }));
    assert.equal(events('retry', id)[0]?.delaySeconds, 30);
    assert.equal((await q.storage.intake.getProperties()).approximateMessagesCount, 1);
    assert.equal((await q.storage.intake.peekMessages()).peekedMessageItems.length, 0, 'the retry waits');
  });
});
