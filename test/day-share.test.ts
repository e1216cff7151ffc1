import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { main as callerCommand } from '../cli/caller.js';
import { enqueueMail } from '../src/functions/enqueue.js';
import { callerToken } from './caller-tokens.js';
import { functionKey, mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';

/** A mailbox day of 3,000 recipients stands for Exchange's 10,000: six messages of 500. */
const day = 3000;

// Issue 22: one registered caller without --daily-quota, flooding at 3 am, spent the mailbox's whole
// day, and every other caller got 429 with a Retry-After of about a day. Two registered callers share
// the default mailbox by weight (erp 2, flooder 1: 2,000 and 1,000 recipients); a third is alone on
// the second mailbox.
describe("each registered caller's share of its mailbox's day, in the shared budget", () => {
  let h: Harness;
  let q: QueueFixture;
  let extra: Record<string, string>;
  const headers: Record<'flooder' | 'erp' | 'lone', Record<string, string>> = { flooder: {}, erp: {}, lone: {} };
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
    const { app, callers } = h.sandbox;
    extra = {
      EXOSEND_CALLER_AUTH: 'entra',
      EXOSEND_RECIPIENTS_PER_DAY: String(day),
      EXOSEND_MAILBOXES: app.secondMailbox,
    };
    q.resetApp(extra);
    const add = async (appId: string, name: string, sender: string, share: string) =>
      assert.equal(
        await callerCommand(['add', appId, '--name', name, '--senders', sender, '--recipients', '*', '--share', share]),
        0,
      );
    await add(callers.sample.clientId, 'flooder', app.mailbox, '1');
    await add(callers.other.clientId, 'erp', app.mailbox, '2');
    await add(callers.unregistered.clientId, 'lone', app.secondMailbox, '1');
    const bearer = async (c: typeof callers.sample) => ({
      authorization: `Bearer ${await callerToken(h.sandbox, c)}`,
      'x-functions-key': '',
    });
    headers.flooder = await bearer(callers.sample);
    headers.erp = await bearer(callers.other);
    headers.lone = await bearer(callers.unregistered);
  });
  after(async () => {
    await q.close();
    await h.close();
  });
  beforeEach(async () => {
    await q.reset();
    q.resetApp(extra);
  });

  /** 500 recipients (Exchange's most a message), from `from` (the default mailbox when absent). */
  /** What a failed assertion prints of the replies: status and code, not 500 addresses each. */
  const outline = (replies: { status: number; body: any }[]) =>
    JSON.stringify(replies.map((r) => `${r.status} ${r.body.error?.diagnosis?.code ?? r.body.error?.code ?? ''}`));

  const fiveHundred = (n: number, from?: string) =>
    mailRequest({
      to: Array.from({ length: 500 }, (_, k) => `r${n}-${k}@fabrikam.example`),
      subject: `day-${n}`,
      ...(from && { from }),
    });

  it('when one registered caller without a daily quota floods, then it gets 429 with a Retry-After of about a day past its share, and the other caller still sends its whole share later in the day', async () => {
    const flood = [];
    for (let n = 0; n < 4; n++) flood.push(await h.send(fiveHundred(n), { headers: headers.flooder }));
    assert.deepEqual(
      flood.map((r) => r.status),
      [200, 200, 429, 429],
      outline(flood),
    );
    const refused = flood[2]!;
    assert.equal(refused.body.error.code, 'MAILBOX_BUDGET_SPENT');
    assert.equal(refused.body.error.diagnosis.code, 'CALLER_DAILY_SHARE_REACHED');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter > 23 * 3600 && retryAfter <= 26 * 3600, `Retry-After ${retryAfter}`);

    const erp = [];
    for (let n = 10; n < 14; n++) erp.push(await h.send(fiveHundred(n), { headers: headers.erp }));
    assert.deepEqual(
      erp.map((r) => r.status),
      [200, 200, 200, 200],
      outline(erp),
    );
    assert.equal(h.sandbox.exchange.counters.accepted, 6, "the mailbox's whole day, and no more");
  });

  it("when a caller past its share enqueues, then its message waits (deferred, not failed) while the other caller's queued message is sent", async () => {
    for (let n = 0; n < 2; n++) assert.equal((await h.send(fiveHundred(n), { headers: headers.flooder })).status, 200);
    const waiting = await h.http(enqueueMail, {
      route: 'enqueue',
      body: { ...fiveHundred(5), idempotencyKey: 'flood-q' },
      headers: headers.flooder,
    });
    const going = await h.http(enqueueMail, {
      route: 'enqueue',
      body: { ...fiveHundred(6), idempotencyKey: 'erp-q' },
      headers: headers.erp,
    });
    assert.deepEqual([waiting.status, going.status], [202, 202]);
    q.startListener();
    const [sent] = await q.waitUntilFinished([`${h.sandbox.callers.other.clientId}:erp-q`]);
    assert.equal(sent!.status, 'sent');
    assert.ok(
      h.logs.some(
        (line) =>
          line.includes('"event":"exosend.queue.deferred"') &&
          line.includes(h.sandbox.callers.sample.clientId) &&
          line.includes('CALLER_DAILY_SHARE_REACHED'),
      ),
      "the flooder's message was deferred past its share",
    );
    assert.equal((await q.store.get(`${h.sandbox.callers.sample.clientId}:flood-q`))?.status, 'queued');
  });

  it('when function keys and Entra callers share the mailbox (both), then the key holders are one more caller of weight 1: each side leaves the other its unused share', async () => {
    q.resetApp({ ...extra, EXOSEND_CALLER_AUTH: 'both', EXOSEND_CALLER_KEY: functionKey });
    // weights flooder 1, erp 2, the function keys 1: shares of 750, 1,500 and 750
    const key = { 'x-functions-key': functionKey };
    const keys = [await h.send(fiveHundred(0), { headers: key }), await h.send(fiveHundred(1), { headers: key })];
    assert.deepEqual(
      keys.map((r) => `${r.status} ${r.body.error?.diagnosis?.code ?? ''}`),
      ['200 ', '429 CALLER_DAILY_SHARE_REACHED'],
      outline(keys),
    );
    const erp = [];
    for (let n = 10; n < 13; n++) erp.push(await h.send(fiveHundred(n), { headers: headers.erp }));
    assert.deepEqual(
      erp.map((r) => r.status),
      [200, 200, 200],
      outline(erp),
    );
    // 2,500 used: the flooder takes 500 of the 750 left, and leaves the key holders their last 250
    const flood = [
      await h.send(fiveHundred(20), { headers: headers.flooder }),
      await h.send(fiveHundred(21), { headers: headers.flooder }),
    ];
    assert.deepEqual(
      flood.map((r) => `${r.status} ${r.body.error?.diagnosis?.code ?? ''}`),
      ['200 ', '429 CALLER_DAILY_SHARE_REACHED'],
      outline(flood),
    );
  });

  it("when a registered caller is alone on its mailbox, then it sends the mailbox's whole day: nobody's share is kept", async () => {
    const { secondMailbox } = h.sandbox.app;
    const replies = [];
    for (let n = 0; n < 7; n++) replies.push(await h.send(fiveHundred(n, secondMailbox), { headers: headers.lone }));
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200, 200, 200, 200, 429],
      outline(replies),
    );
    assert.equal(replies[6]!.body.error.diagnosis.code, 'DAILY_RECIPIENT_LIMIT_REACHED');
  });
});
