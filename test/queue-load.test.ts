import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeQueueMessage } from '../src/queue/queue-message.js';
import type { FaultContext, SmtpFault } from '../local/sandbox/exchange.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { drain, startQueueFixture, type QueueFixture } from './queue-fixture.js';

// 1,000 keep the suite within its five minutes on 2 cores; the benchmark drains 2,000 (section 6)
const total = 1000;
const sendAsDenied =
  '554 5.2.252 SendAsDenied; exosend@contoso.example not allowed to send as exosend@contoso.example; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.';
const transientFaults: SmtpFault[] = [
  { reply: '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' },
  { reply: '451 4.7.0 Temporary server error. Please try again later. PRX4' },
  { drop: true },
];

/** mulberry32: a small seeded generator, so a failing run can be replayed exactly. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the queue under load with failures', () => {
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

  it(`when ${total} messages meet a tenth of transient failures and one in twenty refusals, then each is sent once or dead-lettered as refused`, async () => {
    const seed = Number(process.env['EXOSEND_LOAD_SEED'] ?? 20261127);
    const random = seeded(seed);
    let transientInjected = 0;
    h.sandbox.exchange.setFaultInjector((context: FaultContext) => {
      if (context.stage === 'mail' && random() < 0.1) {
        transientInjected++;
        return transientFaults[Math.floor(random() * transientFaults.length)];
      }
      const index =
        context.stage === 'data' ? Number(/Subject: load-(\d+)/.exec(context.raw?.toString() ?? '')?.[1]) : NaN;
      return index % 20 === 0 ? { reply: sendAsDenied } : undefined;
    });

    const started = performance.now();
    const ids = Array.from({ length: total }, (_, i) => `load-${i}`);
    for (let i = 0; i < total; i += 100) {
      await Promise.all(
        ids
          .slice(i, i + 100)
          .map((id) =>
            q.storage.intake.sendMessage(encodeQueueMessage(mailRequest({ idempotencyKey: id, subject: id }))),
          ),
      );
    }
    const listener = q.startListener();
    const counts = await q.waitForCounts(total, 180_000);
    await listener.stop();
    const durationMs = Math.round(performance.now() - started);

    const accepted = h.sandbox.exchange.messages.filter((m) => /Subject: load-\d+/.test(m.raw.toString()));
    const uniqueMessageIds = new Set(accepted.map((m) => m.messageId));
    const letters = await drain(q.storage, 'poison');
    const letterCodes = new Map<string, number>();
    for (const letter of letters) letterCodes.set(letter.code, (letterCodes.get(letter.code) ?? 0) + 1);
    console.log(
      `queue load (seed ${seed}): enqueued ${total}, sent ${counts.sent}, dead-lettered ${counts.failed}, ` +
        `transient failures injected ${transientInjected}, retries ${counts.attempts - total}, ` +
        `accepted by Exchange ${accepted.length} (${uniqueMessageIds.size} distinct), dead letters ${JSON.stringify(Object.fromEntries(letterCodes))}, ${durationMs} ms`,
    );

    assert.equal(counts.sent + counts.failed, total, 'sent + dead-lettered = enqueued');
    assert.equal(accepted.length, counts.sent, 'Exchange accepted exactly the messages marked sent');
    assert.equal(uniqueMessageIds.size, accepted.length, 'no message was sent twice');
    assert.equal(counts.failed, total / 20, 'exactly the refused messages were dead-lettered');
    assert.deepEqual(
      Object.fromEntries(letterCodes),
      { SEND_AS_DENIED: total / 20 },
      'every dead letter is SEND_AS_DENIED: no transient failure was dead-lettered',
    );
    assert.ok(transientInjected > total / 20, 'the run did meet transient failures');
    assert.ok(counts.attempts > total, 'transient failures were retried');
  });
});
