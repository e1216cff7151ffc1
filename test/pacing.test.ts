import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryFailed } from '../src/diagnosis/failures.js';
import { nextRetryInMs, queueRetryPolicy } from '../src/pipeline/retry.js';
import { LocalBudget } from '../src/budget/local-budget.js';

/** The in-process budget as a pacer: a minute of `limit` sends over `windowInMs`, nothing else limited. */
function localPacer(limit: number, windowInMs: number) {
  const budget = new LocalBudget({
    mailbox: 'exosend@contoso.example',
    limits: { ratePerWindow: limit, windowInMs, maxConnections: 3, recipientsPerDay: 1e9, dayInMs: 86_400_000 },
  });
  return {
    acquire: async () => {
      const permit = await budget.takeSend(1, { waitUpToMs: 60_000 });
      return () => permit.release(true);
    },
  };
}

describe('the per-mailbox pacing of a process without storage', () => {
  // Regression guard for the reason the pacer exists: nodemailer's fixed windows let a burst at the
  // end of one window and another at the start of the next put twice the limit into one window.
  it('when sends keep coming, then no sliding window ever holds more than the limit', async () => {
    const limit = 5;
    const windowInMs = 300;
    const pacer = localPacer(limit, windowInMs);
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 17 }, async () => {
        const release = await pacer.acquire();
        starts.push(Date.now());
        await new Promise((resolve) => setTimeout(resolve, 5));
        release();
      }),
    );
    assert.equal(starts.length, 17);
    for (const start of starts) {
      const inWindow = starts.filter((t) => t >= start && t < start + windowInMs).length;
      assert.ok(inWindow <= limit, `${inWindow} sends started within ${windowInMs} ms of ${start}`);
    }
    const span = Math.max(...starts) - Math.min(...starts);
    assert.ok(
      span >= 3 * windowInMs,
      `17 sends at 5 per ${windowInMs} ms need at least three windows (took ${span} ms)`,
    );
  });

  it('when thousands of sends pass a high limit, then the window still holds across the pacer compacting its history', async () => {
    const limit = 1500;
    const windowInMs = 200;
    const pacer = localPacer(limit, windowInMs);
    const starts: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const release = await pacer.acquire();
      starts.push(Date.now());
      release();
    }
    for (let i = limit; i < starts.length; i++) {
      assert.ok(
        starts[i]! - starts[i - limit]! >= windowInMs,
        `send ${i} started ${starts[i]! - starts[i - limit]!} ms after send ${i - limit}`,
      );
    }
  });

  it('when fewer sends than the limit arrive, then none waits', async () => {
    const pacer = localPacer(30, 60_000);
    const started = Date.now();
    for (let i = 0; i < 30; i++) (await pacer.acquire())();
    assert.ok(Date.now() - started < 1000);
  });
});

describe('a closed budget', () => {
  // a send waiting out its wait after its transport closed would hold the process on a timer for nothing
  it('when a send waits for the minute and its transport closes, then the send fails at once', async () => {
    const budget = new LocalBudget({
      mailbox: 'exosend@contoso.example',
      limits: { ratePerWindow: 1, windowInMs: 60_000, maxConnections: 3, recipientsPerDay: 1e9, dayInMs: 86_400_000 },
    });
    (await budget.takeSend(1, { waitUpToMs: 0 })).release(true);
    // the minute frees in 60 s, past this wait: refused at once
    await assert.rejects(budget.takeSend(1, { waitUpToMs: 30_000 }), /BudgetExhausted|spent/);
    const waiting = budget.takeSend(1, { waitUpToMs: 120_000 });
    const started = Date.now();
    budget.close();
    await assert.rejects(waiting, /closed/);
    assert.ok(Date.now() - started < 1000);
  });
});

/** Seconds before try `attempts + 1` under the queue's policy (base in seconds), after a transient failure that asked for `askedSeconds`. */
function retryDelaySeconds(attempts: number, baseSeconds: number, askedSeconds?: number): number | undefined {
  const policy = queueRetryPolicy({ queueMaxAttempts: Infinity, queueRetryBaseSeconds: baseSeconds });
  const failure = new DeliveryFailed({
    code: 'TEMPORARY_FAILURE',
    stage: 'send',
    cause: '',
    fix: '',
    retryable: true,
    ...(askedSeconds !== undefined && { retryAfterSeconds: askedSeconds }),
  });
  const delayInMs = nextRetryInMs(policy, attempts, failure);
  return delayInMs === undefined ? undefined : delayInMs / 1000;
}

describe('queue retry delays', () => {
  it('when tries fail, then the delay doubles from the base and stops at an hour', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => retryDelaySeconds(n, 30)),
      [30, 60, 120, 240],
    );
    assert.equal(retryDelaySeconds(12, 30), 3600);
  });

  it('when Exchange or Entra asked for a longer wait, then that wait is kept', () => {
    assert.equal(retryDelaySeconds(1, 30, 120), 120);
    assert.equal(retryDelaySeconds(3, 30, 10), 120);
  });
});
