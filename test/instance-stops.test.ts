import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBudget } from '../src/budget/create-budget.js';
import { loadConfig } from '../src/config/load-config.js';
import { encodeQueueMessage } from '../src/queue/queue-message.js';
import { functionKey, mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';
import { startWorker, stopWorker, type WorkerProcess } from './worker-process.js';

// Issue 18, defect 3: an instance stopped gracefully (SIGTERM, or the host's WorkerTerminate on
// every deploy and scale-in) kept its SMTP session leases in the shared budget for 60 s, so the
// next instance's /api/send answered 429 MAILBOX_BUDGET_SPENT and the queue deferred; and a
// crashed instance's leases outlived a caller's 20 s wait. One Azurite outlives every instance
// here, and every limit is the default one (3 sessions, one kept for the health check; 15 s leases).
describe('instances that stop give their sessions back to the mailbox', () => {
  let h: Harness;
  let q: QueueFixture;
  let env: Record<string, string | undefined>;
  const workers: WorkerProcess[] = [];
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
    h.sandbox.exchange.setLimits({ maxSessionsPerMailbox: 3 });
    env = { ...process.env, ...h.sandbox.settings, ...q.settings, SCALE_OUT_FUNCTION_KEY: functionKey };
    delete env['EXOSEND_RATE_PER_MINUTE']; // Exchange's 30, as the stand-in counts
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    for (const w of workers) h.observe(w.lines.join('\n'));
    await q.close();
    await h.close();
  });

  const send = async (worker: WorkerProcess, subject: string) => {
    const started = Date.now();
    const reply = await fetch(`http://127.0.0.1:${worker.port}/api/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': functionKey },
      body: JSON.stringify(mailRequest({ subject })),
    });
    return { status: reply.status, text: await reply.text(), tookMs: Date.now() - started };
  };
  /** Sessions held in the mailbox's ledger, as every instance counts them (through the app's own budget). */
  const sessionsHeld = async () => {
    const budget = createBudget(loadConfig(env), h.sandbox.app.mailbox);
    try {
      return (await budget.usage()).connections.used;
    } finally {
      budget.close();
    }
  };
  const maxSessionsAtExchange = () => h.sandbox.exchange.counters.maxConcurrentSessions[h.sandbox.app.mailbox] ?? 0;

  it('when two instances that hold sessions stop, one by SIGTERM and one as the host stops a worker, then a third instance sends at once and a queued message goes out at its first delivery, not deferred', async () => {
    const [a, b] = await Promise.all([startWorker('http', env, workers), startWorker('http', env, workers)]);
    for (const [worker, subject] of [
      [a, 'from a'],
      [b, 'from b'],
    ] as const) {
      const reply = await send(worker, subject);
      assert.equal(reply.status, 200, reply.text);
    }
    assert.equal(await sessionsHeld(), 2, 'each holds an idle session: both sessions the sends may have');

    const [byHost, bySignal] = await Promise.all([stopWorker(a, 'terminate'), stopWorker(b, 'SIGTERM')]);
    assert.deepEqual(byHost, { code: 0, signal: null }, 'the appTerminate hooks ran and the worker exited');
    assert.deepEqual(
      bySignal,
      { code: null, signal: 'SIGTERM' },
      'the app gave its leases back, then ended as the signal would have',
    );
    assert.equal(await sessionsHeld(), 0, 'both gave their leases back as they stopped');

    await q.storage.intake.sendMessage(
      encodeQueueMessage({ ...mailRequest({ subject: 'queued after the restart' }), idempotencyKey: 'after-restart' }),
    );
    const [c, queue] = await Promise.all([startWorker('http', env, workers), startWorker('queue', env, workers)]);
    const first = await send(c, 'first from c');
    console.log(`a new instance's first send after two stopped: ${first.status} in ${first.tookMs} ms`);
    assert.equal(first.status, 200, first.text);
    // a lease still held would have kept it waiting for at least 10 s (15 s leases, renewed every 5 s)
    assert.ok(first.tookMs < 5000, `answered at once (${first.tookMs} ms)`);
    const [record] = await q.waitUntilFinished(['after-restart'], 15_000);
    assert.deepEqual([record?.status, record?.attempts], ['sent', 1]);
    assert.deepEqual(
      queue.lines.filter((l) => l.includes('exosend.queue.deferred')),
      [],
      'never deferred for the budget',
    );
    for (const worker of [c, queue]) assert.deepEqual(await stopWorker(worker, 'terminate'), { code: 0, signal: null });
    assert.equal(await sessionsHeld(), 0);
    assert.ok(maxSessionsAtExchange() <= 3, `at most 3 sessions at Exchange (${maxSessionsAtExchange()})`);
  });

  it('when an instance that holds every session is killed (SIGKILL: no hook runs), then the next instance waits only until its leases lapse and its /api/send answers 200 within the 20 s it waits', async () => {
    const c = await startWorker('http', env, workers);
    // two at once: the second finds the first session busy and opens the other one
    const both = await Promise.all([send(c, 'c one'), send(c, 'c two')]);
    assert.deepEqual(
      both.map((r) => r.status),
      [200, 200],
      both.map((r) => r.text).join('\n'),
    );
    assert.equal(await sessionsHeld(), 2, 'it holds both sessions the sends may have');
    await stopWorker(c, 'SIGKILL');

    const d = await startWorker('http', env, workers);
    const next = await send(d, 'after the kill');
    console.log(`a new instance's first send after a SIGKILL: ${next.status} in ${next.tookMs} ms`);
    assert.equal(next.status, 200, next.text);
    assert.ok(next.tookMs < 20_000, `within the wait (${next.tookMs} ms)`);
    assert.deepEqual(await stopWorker(d, 'terminate'), { code: 0, signal: null });
    assert.ok(maxSessionsAtExchange() <= 3, `at most 3 sessions at Exchange (${maxSessionsAtExchange()})`);
  });
});
