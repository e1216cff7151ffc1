import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { prune, type BudgetLedger } from '../src/budget/ledger.js';
import { encodeQueueMessage } from '../src/queue/queue-message.js';
import { busiestWindows } from './budget-windows.js';
import { functionKey, mailRequest, startHarness, type Harness } from './harness.js';
import { drain, startQueueFixture, type QueueFixture } from './queue-fixture.js';
import { startWorker, stopWorker, type WorkerProcess } from './worker-process.js';

/** Big enough to cross many windows and a kill; small enough for well under a minute on 2 cores. */
const total = Number(process.env['SCALE_OUT_MESSAGES'] ?? 900);
const ratePerSecond = 40;

describe('scale-out: one budget per mailbox across worker processes', () => {
  let h: Harness;
  let q: QueueFixture;
  const workers: WorkerProcess[] = [];
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await q.close();
    await h.close();
  });

  it(`when ${total} messages arrive through /api/enqueue, raw queue puts and /api/send at once on four workers, two mailboxes, and a queue worker is killed midway, then none is throttled, none is lost, and no window or session count passes a limit`, async () => {
    const { exchange, app } = h.sandbox;
    const second = app.secondMailbox;
    exchange.setLimits({ messagesPerMinute: ratePerSecond, rateWindowInMs: 1000, maxSessionsPerMailbox: 3 });
    const env = {
      ...process.env,
      ...h.sandbox.settings,
      ...q.settings,
      EXOSEND_MAILBOXES: second,
      EXOSEND_RATE_PER_MINUTE: String(ratePerSecond),
      EXOSEND_RATE_WINDOW_SECONDS: '1',
      // a dead worker's sessions come back within 2 s, its message slots within 10 s and a window
      EXOSEND_LEASE_SECONDS: '2',
      EXOSEND_HEALTH_SCHEDULE: '*/2 * * * * *',
      SCALE_OUT_FUNCTION_KEY: functionKey,
    };
    const [http] = await Promise.all([
      startWorker('http', env, workers),
      startWorker('queue', env, workers),
      startWorker('queue', env, workers),
      startWorker('timer', env, workers),
    ]);
    const doomed = workers[2]!;
    const base = `http://127.0.0.1:${http.port}/api`;
    const post = (route: string, body: unknown) =>
      fetch(`${base}/${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-functions-key': functionKey },
        body: JSON.stringify(body),
      });

    const acceptedBefore = exchange.messages.length;
    let killedAt: number | undefined;
    const killMidway = (): void => {
      if (killedAt === undefined && exchange.messages.length - acceptedBefore >= total / 3) {
        killedAt = exchange.messages.length - acceptedBefore;
        doomed.child.kill('SIGKILL');
      }
    };
    exchange.events.on('message', killMidway);

    const request = (i: number) =>
      mailRequest({ idempotencyKey: `scale-${i}`, subject: `scale-${i}`, ...(i % 2 === 1 && { from: second }) });
    const byDoor = (door: number) => Array.from({ length: total }, (_, i) => i).filter((i) => i % 3 === door);
    const queuedIds = [...byDoor(0), ...byDoor(1)].map((i) => `scale-${i}`);
    let tooMany = 0;
    const started = Date.now();
    const inParallel = async (items: number[], callers: number, work: (i: number) => Promise<void>) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: callers }, async () => {
          while (next < items.length) await work(items[next++]!);
        }),
      );
    };
    const sendResults: number[] = [];
    await Promise.all([
      inParallel(byDoor(0), 8, async (i) => {
        const reply = await post('enqueue', request(i));
        assert.equal(reply.status, 202, await reply.text());
      }),
      inParallel(byDoor(1), 8, async (i) => {
        await q.storage.intake.sendMessage(encodeQueueMessage(request(i)));
      }),
      inParallel(byDoor(2), 8, async (i) => {
        for (;;) {
          const reply = await post('send', request(i));
          if (reply.status !== 429) {
            sendResults.push(reply.status);
            assert.equal(reply.status, 200, await reply.text());
            return;
          }
          // a caller that honours Retry-After: the budget was spent for longer than the call waits
          tooMany++;
          await sleep(Number(reply.headers.get('retry-after')) * 1000);
        }
      }),
    ]);
    const records = await q.waitUntilFinished(queuedIds, 120_000);
    const tookMs = Date.now() - started;
    exchange.events.off('message', killMidway);

    // the survivors stop as the host stops them; the killed worker never gave anything back
    await Promise.all(workers.filter((w) => w !== doomed).map((w) => stopWorker(w, 'SIGTERM')));
    const ledgers = await waitForEmptyLedgers(15_000);

    const accepted = exchange.messages.slice(acceptedBefore).filter((m) => /Subject: scale-\d+/.test(m.raw.toString()));
    const distinct = new Set(accepted.map((m) => m.messageId));
    const throttled = exchange.counters.replies.filter(
      (r) => r.code === 432 || r.code === 450 || /5\.2\.0/.test(r.text),
    );
    const deferred = workers.flatMap((w) => w.lines).filter((l) => l.includes('exosend.queue.deferred')).length;
    const windows = {
      [app.mailbox]: busiestWindows(accepted, app.mailbox, 1000),
      [second]: busiestWindows(accepted, second, 1000),
    };
    console.log(
      `scale-out: ${total} messages (${queuedIds.length} queued, ${sendResults.length} by /api/send) in ${tookMs} ms on 4 workers, killed one after ${killedAt} sent; ` +
        `accepted ${accepted.length} (${distinct.size} distinct), deferrals ${deferred}, 429s ${tooMany}, busiest second ${JSON.stringify(windows)}, ` +
        `sessions ${JSON.stringify(exchange.counters.maxConcurrentSessions)}`,
    );
    for (const w of workers) h.observe(w.lines.join('\n'));

    assert.ok(killedAt !== undefined, 'a queue worker was killed midway');
    assert.deepEqual(throttled, [], 'no 432, no rate reply, no quota reply');
    assert.deepEqual(
      records.filter((r) => r.status !== 'sent').map((r) => [r.id, r.status, r.reason ?? r.diagnosis?.code]),
      [],
      'every queued message was sent',
    );
    assert.deepEqual(await drain(q.storage, 'poison'), []);
    assert.equal(sendResults.length, byDoor(2).length);
    assert.equal(distinct.size, total, 'every message reached Exchange');
    // a worker killed between Exchange's 250 and the record's `sent` makes the documented second send
    assert.ok(accepted.length - distinct.size <= 4, `${accepted.length - distinct.size} sent twice`);
    for (const [mailbox, busiest] of Object.entries(windows)) {
      assert.ok(busiest.messages <= ratePerSecond, `${mailbox}: ${busiest.messages} in one window`);
      assert.ok((exchange.counters.maxConcurrentSessions[mailbox] ?? 0) <= 3, `${mailbox}: at most 3 sessions`);
    }
    for (const m of accepted) {
      const from = m.envelope.mailFrom;
      assert.equal(
        m.mailbox,
        from === second ? second : app.mailbox,
        'a listed From authenticates as itself: its copy lands in its own Sent Items',
      );
    }
    assert.ok(accepted.some((m) => m.mailbox === second) && accepted.some((m) => m.mailbox === app.mailbox));
    for (const [mailbox, ledger] of ledgers) {
      assert.deepEqual(ledger.leases, [], `${mailbox}: every session lease came back, the killed worker's too`);
      assert.deepEqual(ledger.holds, [], `${mailbox}: every message slot came back`);
    }
    assert.ok(
      workers[3]!.lines.some((l) => l.includes('exosend.check') && l.includes('"ok":true')),
      'the health check ran green alongside',
    );
  });

  /** Reads each mailbox's ledger until nothing is held: a dead worker's leases and slots lapse on their own. */
  async function waitForEmptyLedgers(timeoutInMs: number): Promise<Map<string, BudgetLedger>> {
    const { TableClient } = await import('@azure/data-tables');
    const table = TableClient.fromConnectionString(q.azurite.connectionString, 'exosendbudget', {
      allowInsecureConnection: true,
    });
    const deadline = Date.now() + timeoutInMs;
    for (;;) {
      const ledgers = new Map<string, BudgetLedger>();
      for await (const e of table.listEntities<{ ledger: string }>()) {
        const ledger = JSON.parse(e.ledger) as BudgetLedger;
        // as every instance reads it, by the app's own rule: what lapsed no longer counts (a copy of
        // that rule here once hid a mutant that kept lapsed leases)
        prune(ledger, Date.now(), {
          ratePerWindow: ratePerSecond,
          windowInMs: 1000,
          maxConnections: 3,
          recipientsPerDay: 10_000,
          dayInMs: 86_400_000,
        });
        ledgers.set(e.partitionKey!, ledger);
      }
      const empty = [...ledgers.values()].every((l) => l.leases.length === 0 && l.holds.length === 0);
      if (empty || Date.now() > deadline) return ledgers;
      await sleep(500);
    }
  }
});
