import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { getRuntime } from '../src/runtime/runtime.js';
import { mailRequest, startHarness, type Harness } from './harness.js';

/**
 * What ships: the app as it runs when none of the pacing settings is set. Every other test raises
 * the rate or names the connections; here Exchange's own limits must come from the defaults.
 * The Exchange stand-in counts no rate here, so only exosend's pacing holds the sends.
 */
describe('the shipped pacing defaults', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());

  // Exchange Online counts 30 messages a minute per mailbox over a sliding window, and refuses a
  // fourth concurrent session: a shorter window, a higher rate or a pool that takes all three
  // sessions each breaks a mailbox that is sending at full speed.
  it('when nothing sets the rate or the connections, then a burst of 31 sends gets 30 through on two sessions and the 31st is told to wait for the minute', async () => {
    h.reset({ EXOSEND_RATE_PER_MINUTE: undefined, EXOSEND_MAX_CONNECTIONS: undefined });
    h.sandbox.exchange.setLimits({ messagesPerMinute: 0, maxSessionsPerMailbox: 3 });
    const { config } = getRuntime();
    assert.deepEqual(
      [config.ratePerMinute, config.maxConnections],
      [30, 3],
      "the defaults are Exchange Online's limits",
    );

    const replies: { index: number; at: number; status: number | string; retryAfter?: number }[] = [];
    const burst = Array.from({ length: 31 }, (_, index) =>
      h.send(mailRequest({ subject: `burst ${index}` })).then(
        (reply) =>
          replies.push({
            index,
            at: Date.now(),
            status: reply.status,
            retryAfter: Number(reply.headers['retry-after']),
          }),
        (error: Error) => replies.push({ index, at: Date.now(), status: error.message }),
      ),
    );
    const deadline = Date.now() + 30_000;
    while (replies.length < 31 && Date.now() < deadline) await sleep(20);
    const sent = replies.filter((r) => r.status === 200);
    assert.equal(sent.length, 30, 'thirty sends go out at once');
    // the 31st cannot have room within the minute: /api/send says so at once (429 with Retry-After)
    // rather than holding the call; a window ten times too short (6 s) would have let it through
    const over = replies.filter((r) => r.status !== 200);
    assert.deepEqual(
      over.map((r) => r.status),
      [429],
      'the 31st waits for the minute',
    );
    assert.ok(over[0]!.retryAfter! >= 50, `Retry-After ${over[0]!.retryAfter} s: the minute, not a fraction of it`);
    assert.equal(h.sandbox.exchange.messages.length, 30, 'Exchange received 30 in the minute');
    assert.equal(
      h.sandbox.exchange.counters.maxConcurrentSessions[h.sandbox.app.mailbox.toLowerCase()],
      2,
      'one of the three sessions is left for the health check',
    );
    await Promise.all(burst);
  });
});
