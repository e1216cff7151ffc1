import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { main as callerCommand } from '../cli/caller.js';
import { enqueueMail } from '../src/functions/enqueue.js';
import { callerToken } from './caller-tokens.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';

describe("each caller's own daily quota, in the shared budget", () => {
  let h: Harness;
  let q: QueueFixture;
  let settings: Record<string, string>;
  const headers: Record<'flooder' | 'other', Record<string, string>> = { flooder: {}, other: {} };
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
    // a mailbox day of 12 recipients stands for Exchange's 10,000
    settings = { ...q.settings, EXOSEND_CALLER_AUTH: 'entra', EXOSEND_RECIPIENTS_PER_DAY: '12' };
    h.restartApp(settings);
    const { sample, other } = h.sandbox.callers;
    const { mailbox } = h.sandbox.app;
    assert.equal(
      await callerCommand([
        'add',
        sample.clientId,
        '--name',
        'flooder',
        '--senders',
        mailbox,
        '--recipients',
        '*',
        '--daily-quota',
        '6',
      ]),
      0,
    );
    assert.equal(
      await callerCommand([
        'add',
        other.clientId,
        '--name',
        'erp',
        '--senders',
        mailbox,
        '--recipients',
        '*',
        '--daily-quota',
        '6',
      ]),
      0,
    );
    headers.flooder = { authorization: `Bearer ${await callerToken(h.sandbox, sample)}`, 'x-functions-key': '' };
    headers.other = { authorization: `Bearer ${await callerToken(h.sandbox, other)}`, 'x-functions-key': '' };
  });
  after(async () => {
    await q.close();
    await h.close();
  });
  beforeEach(async () => {
    await q.reset();
    h.reset(settings);
  });

  const three = (n: number) =>
    mailRequest({ to: [`a${n}@fabrikam.example`, `b${n}@fabrikam.example`, `c${n}@fabrikam.example`] });

  it('when one caller floods past its daily quota, then it gets 429 with a Retry-After of about a day while the other caller keeps its own quota of the mailbox day', async () => {
    // Regression (hostile pass): one caller spent the mailbox's whole day, and every other caller got 429 with Retry-After 86870.
    const flood = [];
    for (let n = 0; n < 5; n++) flood.push(await h.send(three(n), { headers: headers.flooder }));
    assert.deepEqual(
      flood.map((r) => r.status),
      [200, 200, 429, 429, 429],
      JSON.stringify(flood.map((r) => r.body)),
    );
    const refused = flood[2]!;
    assert.equal(refused.body.error.code, 'MAILBOX_BUDGET_SPENT');
    assert.equal(refused.body.error.diagnosis.code, 'CALLER_DAILY_QUOTA_REACHED');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter > 23 * 3600 && retryAfter <= 26 * 3600, `Retry-After ${retryAfter}`);
    const others = [
      await h.send(three(10), { headers: headers.other }),
      await h.send(three(11), { headers: headers.other }),
    ];
    assert.deepEqual(
      others.map((r) => r.status),
      [200, 200],
      JSON.stringify(others.map((r) => r.body)),
    );
    assert.equal(h.sandbox.exchange.counters.accepted, 4);
  });

  it("when a caller past its quota enqueues, then its message waits (deferred, not failed) while the other caller's queued message is sent", async () => {
    for (let n = 0; n < 2; n++) assert.equal((await h.send(three(n), { headers: headers.flooder })).status, 200);
    const waiting = await h.http(enqueueMail, {
      route: 'enqueue',
      body: { ...three(5), idempotencyKey: 'flood-q' },
      headers: headers.flooder,
    });
    const going = await h.http(enqueueMail, {
      route: 'enqueue',
      body: { ...three(6), idempotencyKey: 'erp-q' },
      headers: headers.other,
    });
    assert.deepEqual([waiting.status, going.status], [202, 202]);
    q.startListener();
    const [sent] = await q.waitUntilFinished([`${h.sandbox.callers.other.clientId}:erp-q`]);
    assert.equal(sent!.status, 'sent');
    assert.ok(
      h.logs.some(
        (line) => line.includes('"event":"exosend.queue.deferred"') && line.includes(h.sandbox.callers.sample.clientId),
      ),
      "the flooder's message was deferred",
    );
    assert.equal((await q.store.get(`${h.sandbox.callers.sample.clientId}:flood-q`))?.status, 'queued');
  });
});
