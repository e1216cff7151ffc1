import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { enqueueMail } from '../src/functions/enqueue.js';
import { messageStatus } from '../src/functions/message-status.js';
import { mailRequestSchema } from '../src/mail/mail-request.js';
import { claimSend, recordSent } from '../src/pipeline/send-once.js';
import { DeliveryStore } from '../src/queue/delivery-store.js';
import type { QueueListener } from '../local/host/queue-listener.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { drain, startQueueFixture, type QueueFixture } from './queue-fixture.js';

describe('every send has a record, and one idempotency key is one message', () => {
  let h: Harness;
  let q: QueueFixture;
  let listener: QueueListener | undefined;
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
  });
  after(async () => {
    await listener?.stop();
    await q.close();
    await h.close();
  });
  beforeEach(async () => {
    await listener?.stop();
    listener = undefined;
    q.resetApp();
    await drain(q.storage, 'poison');
    await q.storage.intake.clearMessages();
  });

  let keys = 0;
  const newKey = () => `records-${process.pid}-${++keys}`;
  const status = (id: string) => h.http(messageStatus, { method: 'GET', route: `messages/${id}`, params: { id } });
  const enqueue = (body: unknown) => h.http(enqueueMail, { route: 'enqueue', body });
  const sentWith = (messageId: string) => h.sandbox.exchange.messages.filter((m) => m.messageId === messageId);
  const queued = async () => (await q.storage.intake.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.length;

  it('when /api/send sends, then GET /api/messages/{id} answers sent with its Message-ID, mailbox, time and each recipient pending', async () => {
    const id = newKey();
    const sent = await h.send(
      mailRequest({
        idempotencyKey: id,
        to: ['ada@fabrikam.example'],
        cc: ['grace@fabrikam.example'],
        bcc: ['audit@contoso.example'],
      }),
    );
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.deepEqual(
      Object.keys(sent.body).sort(),
      ['accepted', 'id', 'messageId', 'rejected', 'response', 'transport'],
      'the answer of /api/send is unchanged (its transport came with Graph)',
    );

    const record = await status(id);
    assert.equal(record.status, 200, JSON.stringify(record.body));
    assert.equal(record.body.status, 'sent');
    assert.equal(record.body.messageId, sent.body.messageId);
    assert.equal(record.body.mailbox, h.sandbox.app.mailbox);
    assert.ok(Date.parse(record.body.sentAt) <= Date.now());
    assert.deepEqual(
      record.body.delivery.recipients.map((r: any) => [r.recipient, r.status, r.source]),
      [
        ['ada@fabrikam.example', 'pending', 'smtp'],
        ['audit@contoso.example', 'pending', 'smtp'],
        ['grace@fabrikam.example', 'pending', 'smtp'],
      ],
    );
  });

  it('when /api/send has no idempotency key, then its generated id answers GET /api/messages/{id}', async () => {
    const sent = await h.send(mailRequest());
    assert.equal(sent.status, 200);
    const record = await status(sent.body.id);
    assert.equal(record.body.status, 'sent');
    assert.equal(record.body.messageId, sent.body.messageId);
  });

  // Regression: two concurrent /api/send calls with one idempotencyKey and different subjects both
  // got 200, and two different messages went out under one Message-ID.
  it('when two /api/send calls race with one key and different content, then one message goes out and the other call gets 409', async () => {
    const id = newKey();
    const replies = await Promise.all([
      h.send(mailRequest({ idempotencyKey: id, subject: 'first' })),
      h.send(mailRequest({ idempotencyKey: id, subject: 'second' })),
    ]);
    assert.deepEqual(replies.map((r) => r.status).sort(), [200, 409], JSON.stringify(replies.map((r) => r.body)));
    const winner = replies.find((r) => r.status === 200)!;
    const loser = replies.find((r) => r.status === 409)!;
    assert.equal(loser.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(sentWith(winner.body.messageId).length, 1, 'one message under the Message-ID');
  });

  it('when the same request is sent twice at once and again later, then one message goes out and every call gets its answer', async () => {
    const id = newKey();
    const request = mailRequest({ idempotencyKey: id, subject: 'once' });
    const replies = [...(await Promise.all([h.send(request), h.send(request)])), await h.send(request)];
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200],
      JSON.stringify(replies.map((r) => r.body)),
    );
    assert.equal(new Set(replies.map((r) => r.body.messageId)).size, 1);
    assert.deepEqual(
      replies[2]!.body,
      replies[0]!.body,
      'a repeat gets the first answer, recipients and reply included',
    );
    assert.equal(sentWith(replies[0]!.body.messageId).length, 1);
  });

  // Regression: after /api/send with a key, a later /api/enqueue with that key sent a third message.
  it('when /api/enqueue repeats the key of an /api/send, then other content gets 409, the same content its outcome, and nothing more is queued', async () => {
    const id = newKey();
    const sent = await h.send(mailRequest({ idempotencyKey: id, subject: 'sent now' }));
    assert.equal(sent.status, 200);
    const other = await enqueue(mailRequest({ idempotencyKey: id, subject: 'a third message' }));
    assert.equal(other.status, 409, JSON.stringify(other.body));
    assert.equal(other.body.error.existing.status, 'sent');
    const same = await enqueue(mailRequest({ idempotencyKey: id, subject: 'sent now' }));
    assert.equal(same.status, 202);
    assert.equal(same.body.status, 'sent');
    assert.equal(await queued(), 0, 'nothing was queued');
    assert.equal(sentWith(sent.body.messageId).length, 1);
  });

  it('when /api/send repeats the key of an /api/enqueue, then other content gets 409 and the same content is sent once, whichever comes first', async () => {
    const id = newKey();
    const request = mailRequest({ idempotencyKey: id, subject: 'queued first' });
    assert.equal((await enqueue(request)).status, 202);
    const other = await h.send(mailRequest({ idempotencyKey: id, subject: 'something else' }));
    assert.equal(other.status, 409, JSON.stringify(other.body));
    assert.equal(other.body.error.existing.status, 'queued');
    const same = await h.send(request);
    assert.equal(same.status, 200, JSON.stringify(same.body));
    listener = q.startListener();
    const [record] = await q.waitUntilFinished([id]);
    assert.equal(record?.status, 'sent');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(sentWith(same.body.messageId).length, 1, 'the queue found it sent and sent nothing');
  });

  // Regression: two concurrent /api/enqueue calls with one key and other content both got 202, and
  // the loser later read `sent` for a message that was not its own: its own was dead-lettered.
  it('when two /api/enqueue calls race with one key and different content, then the loser gets 409 and only the winner is sent', async () => {
    const id = newKey();
    const replies = await Promise.all([
      enqueue(mailRequest({ idempotencyKey: id, subject: 'A' })),
      enqueue(mailRequest({ idempotencyKey: id, subject: 'B' })),
    ]);
    assert.deepEqual(replies.map((r) => r.status).sort(), [202, 409], JSON.stringify(replies.map((r) => r.body)));
    const winnerSubject = replies[0].status === 202 ? 'A' : 'B';
    listener = q.startListener();
    const [record] = await q.waitUntilFinished([id]);
    assert.equal(record?.status, 'sent');
    const out = sentWith(record.messageId!);
    assert.equal(out.length, 1);
    assert.match(out[0]!.raw.toString(), new RegExp(`^Subject: ${winnerSubject}\\r?$`, 'm'));
    assert.deepEqual(await drain(q.storage, 'poison'), [], "the loser's message was taken back, not dead-lettered");
  });

  it('when /api/send is refused for good, then a repeat gets the same refusal without a second try, and the record says failed', async () => {
    const id = newKey();
    h.sandbox.exchange.failNext(
      'data',
      '554 5.2.252 SendAsDenied; not allowed to send as x@contoso.example; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied',
    );
    const first = await h.send(mailRequest({ idempotencyKey: id }));
    assert.equal(first.status, 502, JSON.stringify(first.body));
    const attemptsBefore = h.sandbox.exchange.counters.connections + h.sandbox.exchange.counters.accepted;
    const again = await h.send(mailRequest({ idempotencyKey: id }));
    assert.equal(again.status, 502);
    assert.equal(again.body.error.code, first.body.error.code);
    assert.equal(
      h.sandbox.exchange.counters.connections + h.sandbox.exchange.counters.accepted,
      attemptsBefore,
      'Exchange was not asked again',
    );
    const record = await status(id);
    assert.equal(record.body.status, 'failed');
    assert.equal(record.body.diagnosis.code, 'SEND_AS_DENIED');
  });

  it('when /api/send fails for now, then the same request under its key tries again and is sent', async () => {
    const id = newKey();
    h.sandbox.exchange.failNext('mail', '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded', 3);
    const first = await h.send(mailRequest({ idempotencyKey: id }));
    assert.equal(first.status, 503, JSON.stringify(first.body));
    assert.equal((await status(id)).body.status, 'failed');
    const again = await h.send(mailRequest({ idempotencyKey: id }));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal((await status(id)).body.status, 'sent');
  });

  // A request with the same key that reads "sent" answers from the recipients at once (repeat in
  // src/pipeline/send-once.ts): read between the two writes, it told its caller no one was accepted.
  it('when a send is recorded, then its recipients are in storage before its record says sent', async () => {
    const id = newKey();
    const request = mailRequestSchema.parse(mailRequest({ idempotencyKey: id }));
    let recordWhileRecipientsWritten: string | undefined;
    const deliveries = new (class extends DeliveryStore {
      override async recordSent(...args: Parameters<DeliveryStore['recordSent']>) {
        recordWhileRecipientsWritten = (await q.store.get(id))?.status;
        return super.recordSent(...args);
      }
    })(q.storage.deliveries);
    const deps = { store: q.store, deliveries, claimLeaseInMs: 60_000, waitForFirstInMs: 0 };
    const claim = await claimSend(deps, request, id);
    assert.ok('record' in claim);
    const { record } = claim;
    const messageId = '<exosend.order@contoso.example>';
    const sent = { id, messageId, accepted: ['ada@fabrikam.example'], rejected: [], response: '250 2.0.0 OK' };
    await recordSent(deps, record, { ...sent, transport: 'smtp', mailbox: 'sender@contoso.example' }, []);
    assert.equal(recordWhileRecipientsWritten, 'sending');
    assert.equal((await q.store.get(id))?.status, 'sent');
    assert.deepEqual(
      (await status(id)).body.delivery.recipients.map((r: { recipient: string }) => r.recipient),
      ['ada@fabrikam.example'],
    );
  });
});
