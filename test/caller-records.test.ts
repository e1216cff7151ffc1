import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { main as callerCommand } from '../cli/caller.js';
import { enqueueMail } from '../src/functions/enqueue.js';
import { messageStatus } from '../src/functions/message-status.js';
import { requestDigest } from '../src/mail/request-digest.js';
import { callerToken } from './caller-tokens.js';
import { functionKey, mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';

describe('records belong to their caller (EXOSEND_CALLER_AUTH=both)', () => {
  let h: Harness;
  let q: QueueFixture;
  let settings: Record<string, string>;
  const tokens: Record<'sample' | 'other', string> = { sample: '', other: '' };
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
    settings = { ...q.settings, EXOSEND_CALLER_AUTH: 'both', EXOSEND_CALLER_KEY: functionKey };
    h.restartApp(settings);
    const { sample, other } = h.sandbox.callers;
    for (const [app, name] of [
      [sample, 'erp'],
      [other, 'reports'],
    ] as const) {
      assert.equal(
        await callerCommand([
          'add',
          app.clientId,
          '--name',
          name,
          '--senders',
          h.sandbox.app.mailbox,
          '--recipients',
          '*',
        ]),
        0,
      );
    }
    tokens.sample = await callerToken(h.sandbox, sample);
    tokens.other = await callerToken(h.sandbox, other);
  });
  after(async () => {
    await q.close();
    await h.close();
  });
  beforeEach(async () => {
    await q.reset();
    h.reset(settings);
  });

  const as = (who: 'sample' | 'other' | 'key'): Record<string, string> =>
    who === 'key' ? {} : { authorization: `Bearer ${tokens[who]}` };
  const status = (who: 'sample' | 'other' | 'key', id: string) =>
    h.http(messageStatus, { method: 'GET', route: `messages/${id}`, params: { id }, headers: as(who) });

  it('when two callers send under the same idempotency key with other content, then each message goes out and each caller reads its own record under its key', async () => {
    const key = `invoice-${randomUUID()}`;
    const first = await h.send(mailRequest({ subject: 'from erp', idempotencyKey: key }), { headers: as('sample') });
    const second = await h.send(mailRequest({ subject: 'from reports', idempotencyKey: key }), {
      headers: as('other'),
    });
    const third = await h.send(mailRequest({ subject: 'from a key', idempotencyKey: key }), { headers: as('key') });
    assert.deepEqual(
      [first.status, second.status, third.status],
      [200, 200, 200],
      JSON.stringify([first.body, second.body, third.body]),
    );
    assert.deepEqual(
      [first.body.id, second.body.id, third.body.id],
      [key, key, key],
      'each caller sees its own key as the id',
    );
    assert.equal(h.sandbox.exchange.counters.accepted, 3);
    const ids = new Set([first.body.messageId, second.body.messageId, third.body.messageId]);
    assert.equal(ids.size, 3, 'three messages, three Message-IDs');
    for (const who of ['sample', 'other', 'key'] as const) {
      const read = await status(who, key);
      assert.equal(read.status, 200);
      assert.equal(read.body.id, key);
    }
    assert.equal((await status('sample', key)).body.messageId, first.body.messageId);
    assert.equal((await status('other', key)).body.messageId, second.body.messageId);
  });

  it('when two callers enqueue under the same idempotency key, then neither is refused 409 and both are sent', async () => {
    const key = `ticket-${randomUUID()}`;
    const a = await h.http(enqueueMail, {
      route: 'enqueue',
      body: mailRequest({ subject: 'a', idempotencyKey: key }),
      headers: as('sample'),
    });
    const b = await h.http(enqueueMail, {
      route: 'enqueue',
      body: mailRequest({ subject: 'b', idempotencyKey: key }),
      headers: as('other'),
    });
    assert.deepEqual([a.status, b.status], [202, 202], JSON.stringify([a.body, b.body]));
    assert.equal(a.body.id, key);
    assert.equal(a.headers['location'], `/api/messages/${key}`);
    q.startListener();
    const records = await q.waitUntilFinished([
      `${h.sandbox.callers.sample.clientId}:${key}`,
      `${h.sandbox.callers.other.clientId}:${key}`,
    ]);
    assert.deepEqual(
      records.map((r) => [r.status, r.caller, r.callerName]),
      [
        ['sent', h.sandbox.callers.sample.clientId, 'erp'],
        ['sent', h.sandbox.callers.other.clientId, 'reports'],
      ],
    );
  });

  it("when a caller asks for another caller's message, then the answer is the same 404 as for an id nobody used", async () => {
    const key = `probe-${randomUUID()}`;
    assert.equal((await h.send(mailRequest({ idempotencyKey: key }), { headers: as('sample') })).status, 200);
    const foreign = await status('other', key);
    const byKey = await status('key', key);
    const unknown = await status('other', `never-${randomUUID()}`);
    assert.equal(foreign.status, 404);
    assert.equal(byKey.status, 404, 'a function key reads only its own namespace');
    assert.equal(unknown.status, 404);
    const shape = (reply: typeof foreign) => ({
      ...reply.body.error,
      message: reply.body.error.message.replace(/"[^"]*"/, '"<id>"'),
    });
    assert.deepEqual(shape(foreign), shape(unknown));
    // the namespaced form, too: a key holder can neither read nor claim it
    const namespaced = `${h.sandbox.callers.sample.clientId}:${key}`;
    assert.equal((await status('key', namespaced)).status, 404);
    assert.equal((await status('other', namespaced)).status, 404);
    const claimed = await h.send(mailRequest({ idempotencyKey: namespaced }), { headers: as('key') });
    assert.equal(claimed.status, 400, JSON.stringify(claimed.body));
    assert.equal(h.sandbox.exchange.counters.accepted, 1);
  });

  it('when a record was written before caller identities (no caller on it), then function-key callers still read it and an Entra caller gets 404', async () => {
    const key = `legacy-${randomUUID()}`;
    assert.equal(await q.store.markQueued(key, requestDigest(mailRequest())), true);
    assert.equal((await status('key', key)).status, 200);
    assert.equal((await status('sample', key)).status, 404);
  });

  it('when a message of an Entra caller fails for good, then its record, log lines and dead letter name the caller by app id and name, never by its token', async () => {
    h.sandbox.exchange.configureMailbox(h.sandbox.app.mailbox, { mailboxFull: true });
    const key = `full-${randomUUID()}`;
    const sent = await h.send(mailRequest({ idempotencyKey: key }), { headers: as('sample') });
    assert.equal(sent.status, 502, JSON.stringify(sent.body));
    const enqueued = await h.http(enqueueMail, {
      route: 'enqueue',
      body: mailRequest({ subject: 'queued', idempotencyKey: `${key}-q` }),
      headers: as('sample'),
    });
    assert.equal(enqueued.status, 202);
    q.startListener();
    const { clientId } = h.sandbox.callers.sample;
    const [record] = await q.waitUntilFinished([`${clientId}:${key}-q`]);
    assert.equal(record!.status, 'failed');
    assert.equal(record!.caller, clientId);
    const direct = await q.store.get(`${clientId}:${key}`);
    assert.deepEqual([direct?.caller, direct?.callerName], [clientId, 'erp']);
    const [letter] = await q.storage.poison
      .receiveMessages({ numberOfMessages: 1 })
      .then((r) => r.receivedMessageItems);
    const dead = JSON.parse(Buffer.from(letter!.messageText, 'base64').toString());
    assert.deepEqual(dead.caller, { id: clientId, name: 'erp' });
    const lines = h.logs.filter((line) => line.includes(key));
    assert.ok(lines.length >= 2, lines.join('\n'));
    for (const line of lines) assert.match(line, new RegExp(`"caller":"${clientId}","callerName":"erp"`));
    for (const line of h.logs) assert.ok(!line.includes(tokens.sample.split('.')[2]!), 'no log line holds the token');
  });
});
