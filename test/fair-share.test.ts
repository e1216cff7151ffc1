import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { main as callerCommand } from '../cli/caller.js';
import { busiestWindows } from './budget-windows.js';
import { callerToken } from './caller-tokens.js';
import { functionKey, mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';
import { startWorker, type WorkerProcess } from './worker-process.js';

/**
 * The minute, shortened: 6 messages in any 5 s, as the Exchange stand-in counts too (slow enough that
 * the minute binds, not the mailbox's 3 sessions on a loaded machine).
 */
const rate = 6;
const windowInMs = 5000;
/** Windows the callers compete for; the first is left out (every caller starts at once). */
const windows = 6;

// Issue 22 (hostile pass): one caller could take every slot of a mailbox's minute, and every other
// caller waited behind it. Three callers, weights 2, 1 and 1, send through three instances of the
// app (each caller's requests spread over all three) that share one Azurite: the flooder with
// three times the requests of both others together.
describe("callers' fair share of a mailbox's minute, across instances", () => {
  let h: Harness;
  let q: QueueFixture;
  const workers: WorkerProcess[] = [];
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    for (const w of workers) h.observe(w.lines.join('\n'));
    await q.close();
    await h.close();
  });

  it('when three callers on one mailbox across three instances compete and one floods, then the other two each get at least their share of every window, the flooder gets 429 past its daily quota, and Exchange never sees more than its limit', async () => {
    const { exchange, app, callers } = h.sandbox;
    exchange.setLimits({ messagesPerMinute: rate, rateWindowInMs: windowInMs, maxSessionsPerMailbox: 3 });
    const settings = {
      ...h.sandbox.settings,
      ...q.settings,
      EXOSEND_CALLER_AUTH: 'entra',
      EXOSEND_RATE_PER_MINUTE: String(rate),
      EXOSEND_RATE_WINDOW_SECONDS: String(windowInMs / 1000),
    };
    h.restartApp(settings);
    const apps = { erp: callers.sample, reports: callers.other, flooder: callers.unregistered };
    const flooderQuota = 10;
    assert.equal(
      await callerCommand([
        'add',
        apps.erp.clientId,
        '--name',
        'erp',
        '--senders',
        app.mailbox,
        '--recipients',
        '*',
        '--share',
        '2',
      ]),
      0,
    );
    assert.equal(
      await callerCommand([
        'add',
        apps.reports.clientId,
        '--name',
        'reports',
        '--senders',
        app.mailbox,
        '--recipients',
        '*',
        '--share',
        '1',
      ]),
      0,
    );
    assert.equal(
      await callerCommand([
        'add',
        apps.flooder.clientId,
        '--name',
        'flooder',
        '--senders',
        app.mailbox,
        '--recipients',
        '*',
        '--share',
        '1',
        '--daily-quota',
        String(flooderQuota),
      ]),
      0,
    );
    const shares = { erp: Math.floor((rate * 2) / 4), reports: Math.floor(rate / 4) };
    const tokens = Object.fromEntries(
      await Promise.all(
        Object.entries(apps).map(async ([name, caller]) => [name, await callerToken(h.sandbox, caller)] as const),
      ),
    );
    const env = { ...process.env, ...settings, SCALE_OUT_FUNCTION_KEY: functionKey };
    const instances = await Promise.all([
      startWorker('http', env, workers),
      startWorker('http', env, workers),
      startWorker('http', env, workers),
    ]);

    const send = (name: keyof typeof apps, instance: number, subject: string) =>
      fetch(`http://127.0.0.1:${instances[instance]!.port}/api/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[name]}` },
        body: JSON.stringify(mailRequest({ subject })),
      });
    // each instance warm (signing keys, policies, a session, Exchange's token) before the clock starts
    for (const [index] of instances.entries()) assert.equal((await send('erp', index, `warm-${index}`)).status, 200);
    const started = Date.now();
    const until = started + windows * windowInMs;
    const quotaRefusals: number[] = [];
    const otherRefusals: string[] = [];
    const ownTurnsMissed: string[] = [];
    let n = 0;
    /** One of a caller's parallel clients: sends one after another until the test's time is up. */
    const client = async (name: keyof typeof apps) => {
      while (Date.now() < until) {
        const i = n++;
        const reply = await send(name, i % 3, `fair-${name}-${i}`);
        const body = (await reply.json()) as { error?: { diagnosis?: { code?: string } } };
        if (reply.status === 200) continue;
        if (reply.status === 429 && body.error?.diagnosis?.code === 'CALLER_DAILY_QUOTA_REACHED') {
          quotaRefusals.push(Number(reply.headers.get('retry-after')));
          if (name !== 'flooder') otherRefusals.push(`${name}: ${JSON.stringify(body)}`);
          await sleep(1000);
          continue;
        }
        // the flooder may wait longer than a call waits for its share: 429 with Retry-After. So may one
        // request of a caller that asks for more than its share: the caller gets its share of every
        // window (asserted below), but its own requests take their turns in no order, and under load
        // one of them can wait past the call's 20 s (docs/callers.md)
        const waitedPastTheCall = reply.status === 429 && body.error?.diagnosis?.code === 'MINUTE_LIMIT_REACHED';
        if (waitedPastTheCall && name !== 'flooder') ownTurnsMissed.push(name);
        else if (name !== 'flooder' || reply.status !== 429)
          otherRefusals.push(`${name} ${reply.status}: ${JSON.stringify(body)}`);
        await sleep(Number(reply.headers.get('retry-after') ?? 1) * 1000);
      }
    };
    // 10 requests at once on each instance: within its HTTP concurrency (12), so that the flooder
    // competes for the mailbox's minute, not for the instances' request slots; each other caller asks
    // for more than its share, the flooder for four times as much as both together
    const clients = { erp: 4, reports: 2, flooder: 24 };
    await Promise.all(
      Object.entries(clients).flatMap(([name, count]) =>
        Array.from({ length: count }, () => client(name as keyof typeof apps)),
      ),
    );

    const accepted = exchange.messages.filter((m) => /Subject: fair-/.test(m.raw.toString()));
    const callerOf = (m: (typeof accepted)[number]) => /Subject: fair-(\w+)-/.exec(m.raw.toString())![1]!;
    const perWindow = Array.from({ length: windows }, (_, k) => {
      const inIt = accepted.filter((m) => Math.floor((m.receivedAt.getTime() - started) / windowInMs) === k);
      return Object.fromEntries(
        Object.keys(apps).map((name) => [name, inIt.filter((m) => callerOf(m) === name).length]),
      );
    });
    const throttled = exchange.counters.replies.filter(
      (r) => r.code === 432 || r.code === 450 || /5\.2\.0/.test(r.text),
    );
    const flooderSent = accepted.filter((m) => callerOf(m) === 'flooder').length;
    console.log(
      `fair share: per window ${JSON.stringify(perWindow)}; flooder sent ${flooderSent} (quota ${flooderQuota}), quota 429s ${quotaRefusals.length}; others' requests that waited past the call ${ownTurnsMissed.length}; busiest ${JSON.stringify(busiestWindows(accepted, app.mailbox, windowInMs))}`,
    );

    assert.deepEqual(otherRefusals, [], 'only the flooder was refused (but for the minute, above)');
    // Each caller's share is of the slots the mailbox's minute gives, and those come round a little
    // slower than the window: the ledger counts a send from its completion, and frees its slot a
    // window later (src/budget/ledger.ts), so the next send under it reaches Exchange a window plus
    // its own way there after the last (taking the slot, a session, which one of three instances
    // may have to wait for, and SMTP). Windows counted from the test's start drift against that
    // cycle, and one can hold only part of it (CI, Node 22: 6, 6, 6, 6, then 3 in the last window,
    // the rest of that cycle after the test's end). So each caller is held to its share of what
    // each window held, less one message at the window's edges; and the run as a whole, to its
    // share of all of it.
    const steady = perWindow.slice(1);
    const held = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
    const sentInSteady = steady.reduce((sum, counts) => sum + held(counts), 0);
    for (const name of ['erp', 'reports'] as const) {
      for (const [k, counts] of steady.entries())
        assert.ok(
          counts[name]! >= (shares[name] * held(counts)) / rate - 1,
          `${name} in window ${k + 1}: ${JSON.stringify(counts)}, shares ${JSON.stringify(shares)} of ${rate}`,
        );
      const total = steady.reduce((sum, counts) => sum + counts[name]!, 0);
      assert.ok(
        total >= (shares[name] * sentInSteady) / rate - 1,
        `${name}: ${total} of the ${sentInSteady} sent in ${steady.length} windows, share ${shares[name]} of ${rate}`,
      );
    }
    // and the minute was used: the slower cycle above costs a window's worth at most over the run
    // (seen: 27 to 30 of 30; with the ledger's window made 1.3 times Exchange's, 23)
    assert.ok(
      sentInSteady >= rate * (steady.length - 1),
      `the mailbox sent ${sentInSteady} in ${steady.length} windows of ${rate}`,
    );
    assert.ok(
      perWindow.slice(1, 4).some((counts) => counts['flooder']! > 0),
      'the flooder sends its own share while under its quota',
    );
    assert.equal(flooderSent, flooderQuota, 'the flooder sends exactly its daily quota of one-recipient messages');
    assert.ok(
      quotaRefusals.length > 0 && quotaRefusals.every((s) => s > 23 * 3600),
      `429 with a Retry-After of about a day past its quota: ${quotaRefusals.slice(0, 3).join(', ')}`,
    );
    assert.ok(
      busiestWindows(accepted, app.mailbox, windowInMs).messages <= rate,
      "never more than Exchange's limit in any window",
    );
    assert.deepEqual(throttled, [], 'no 432, no rate reply');
  });
});
