import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { enqueueMail } from '../src/functions/enqueue.js';
import { messageStatus } from '../src/functions/message-status.js';
import type { QueueListener } from '../local/host/queue-listener.js';
import { parseDeliveryReport } from '../src/mail/delivery-report.js';
import { applyDeliveryReport, type ReportDeps } from '../src/queue/apply-report.js';
import { DeliveryStore } from '../src/queue/delivery-store.js';
import { SuppressionList } from '../src/queue/suppression-list.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { runObserved } from './observed.js';
import { drain, startQueueFixture, type QueueFixture } from './queue-fixture.js';

/** A fixture in Exchange Online's shape (test/fixtures/reports), about the message exosend really sent. */
function reportOf(fixture: string, about: { id?: string; messageId: string }, recipients: Record<string, string> = {}) {
  let text = readFileSync(join('test', 'fixtures', 'reports', fixture), 'utf8');
  text = text.replace(/<exosend\.[0-9a-f]{32}@contoso\.example>/g, about.messageId);
  text = about.id
    ? text.replace(/^Original-Envelope-Id: .*$/m, `Original-Envelope-Id: ${about.id}`)
    : text.replace(/^Original-Envelope-Id: .*\n/m, '');
  for (const [from, to] of Object.entries(recipients)) text = text.split(from).join(to);
  return parseDeliveryReport(text)!;
}

describe('bounces read back: per-recipient delivery and suppression', () => {
  let h: Harness;
  let q: QueueFixture;
  let deps: ReportDeps;
  let listener: QueueListener | undefined;
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
    deps = {
      store: q.store,
      deliveries: new DeliveryStore(q.storage.deliveries),
      suppressions: new SuppressionList(q.storage.suppressions),
    };
  });
  after(async () => {
    await listener?.stop();
    await q.close();
    await h.close();
  });
  beforeEach(async () => {
    await listener?.stop();
    listener = undefined;
    h.reset(q.settings);
    h.sandbox.exchange.setLimits({ messagesPerMinute: 0 });
    for (const s of await deps.suppressions.list()) await deps.suppressions.remove(s.recipient);
    await drain(q.storage, 'poison');
  });

  let keys = 0;
  const newKey = () => `bounce-${process.pid}-${++keys}`;
  const status = async (id: string) =>
    (await h.http(messageStatus, { method: 'GET', route: `messages/${id}`, params: { id } })).body;
  /**
   * The message's recipients as GET /api/messages/{id} shows them. A queued message's record says
   * sent before its recipients are written (src/pipeline/queue-outcomes.ts: nothing may delay the
   * record that holds off a second send), so they may come a moment after it (seen in CI).
   */
  const recipientsOf = async (id: string) => {
    for (let tries = 0; ; tries++) {
      const { delivery } = await status(id);
      if (delivery) return Object.fromEntries(delivery.recipients.map((r: any) => [r.recipient, r]));
      assert.ok(tries < 50, `no recipients recorded for ${id} after 5 s`);
      await sleep(100);
    }
  };

  it('when Exchange reports an unknown recipient, then that recipient reads failed with its code and diagnosis, its partner stays pending, and later sends leave it out', async () => {
    const id = newKey();
    const sent = await h.send(
      mailRequest({ idempotencyKey: id, to: ['ada@fabrikam.example', 'nobody@fabrikam.example'] }),
    );
    assert.equal(sent.status, 200);
    const outcomes = await applyDeliveryReport(
      deps,
      reportOf('exo-ndr-recipient-not-found.eml', { id, messageId: sent.body.messageId }),
    );
    assert.deepEqual(
      outcomes.map((o) => [o.recipient, o.status, o.diagnosis, o.suppressed]),
      [['nobody@fabrikam.example', 'failed', 'RECIPIENT_NOT_FOUND', true]],
    );

    const recipients = await recipientsOf(id);
    assert.equal(recipients['ada@fabrikam.example'].status, 'pending');
    assert.deepEqual(
      [
        recipients['nobody@fabrikam.example'].status,
        recipients['nobody@fabrikam.example'].statusCode,
        recipients['nobody@fabrikam.example'].diagnosis,
        recipients['nobody@fabrikam.example'].source,
      ],
      ['failed', '5.1.10', 'RECIPIENT_NOT_FOUND', 'report'],
    );
    assert.match(recipients['nobody@fabrikam.example'].detail, /RecipientNotFound/);

    const next = await h.send(mailRequest({ to: ['Nobody@fabrikam.example'], cc: ['grace@fabrikam.example'] }));
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.deepEqual(next.body.accepted, ['grace@fabrikam.example']);
    assert.deepEqual(
      next.body.suppressed.map((s: any) => [s.recipient, s.code]),
      [['nobody@fabrikam.example', 'RECIPIENT_SUPPRESSED']],
    );
    assert.deepEqual(
      h.sandbox.exchange.messages.at(-1)!.envelope.rcptTo,
      ['grace@fabrikam.example'],
      'Exchange never saw the suppressed address',
    );
    assert.equal((await recipientsOf(next.body.id))['nobody@fabrikam.example'].source, 'suppression');

    const alone = await h.send(mailRequest({ to: ['nobody@fabrikam.example'] }));
    assert.equal(alone.status, 403, JSON.stringify(alone.body));
    assert.equal(alone.body.error.code, 'RECIPIENT_SUPPRESSED');

    assert.equal(await deps.suppressions.remove('nobody@fabrikam.example'), true);
    assert.equal(
      (await h.send(mailRequest({ to: ['nobody@fabrikam.example'] }))).status,
      200,
      'removed, it is mailed again',
    );
  });

  it('when the queue sends to a suppressed recipient and a partner, then the partner is sent and the record says why the other was not', async () => {
    await deps.suppressions.add({
      recipient: 'nobody@fabrikam.example',
      reason: 'RECIPIENT_NOT_FOUND',
      statusCode: '5.1.10',
      at: new Date().toISOString(),
    });
    const id = newKey();
    assert.equal(
      (
        await h.http(enqueueMail, {
          route: 'enqueue',
          body: mailRequest({ idempotencyKey: id, to: ['ada@fabrikam.example', 'nobody@fabrikam.example'] }),
        })
      ).status,
      202,
    );
    const alone = newKey();
    assert.equal(
      (
        await h.http(enqueueMail, {
          route: 'enqueue',
          body: mailRequest({ idempotencyKey: alone, to: ['nobody@fabrikam.example'] }),
        })
      ).status,
      202,
    );
    listener = q.startListener();
    const [sent, refused] = await q.waitUntilFinished([id, alone]);
    assert.equal(sent?.status, 'sent');
    assert.deepEqual(
      h.sandbox.exchange.messages.filter((m) => m.messageId === sent.messageId).map((m) => m.envelope.rcptTo),
      [['ada@fabrikam.example']],
    );
    assert.equal((await recipientsOf(id))['nobody@fabrikam.example'].diagnosis, 'RECIPIENT_SUPPRESSED');
    assert.equal(refused?.status, 'failed');
    assert.match(refused.reason!, /^RECIPIENT_SUPPRESSED/);
  });

  it('when a report without ENVID says a mailbox is full, then it is matched by Message-ID, reads failed, and the address is never suppressed', async () => {
    const sent = await h.send(mailRequest({ to: ['full@fabrikam.example'] }));
    const outcomes = await applyDeliveryReport(
      deps,
      reportOf('exo-ndr-mailbox-full-no-envid.eml', { messageId: sent.body.messageId }),
    );
    assert.deepEqual(
      outcomes.map((o) => [o.id, o.status, o.diagnosis, o.suppressed]),
      [[sent.body.id, 'failed', 'RECIPIENT_MAILBOX_FULL', false]],
    );
    assert.deepEqual(await deps.suppressions.find(['full@fabrikam.example']), []);
    assert.equal((await h.send(mailRequest({ to: ['full@fabrikam.example'] }))).body.suppressed, undefined);
  });

  it('when a delay comes before the failure and another after it, then the recipient reads delayed, then failed, and stays failed', async () => {
    const id = newKey();
    const sent = await h.send(
      mailRequest({ idempotencyKey: id, to: ['slow@northwind.example', 'gone@northwind.example'] }),
    );
    const delay = reportOf('exo-delay.eml', { id, messageId: sent.body.messageId });
    const later = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
    await applyDeliveryReport(
      deps,
      { ...delay, recipients: delay.recipients.filter((r) => r.action === 'delayed') },
      later(1),
    );
    assert.equal((await recipientsOf(id))['slow@northwind.example'].status, 'delayed');
    const failed = reportOf(
      'exo-ndr-recipient-not-found.eml',
      { id, messageId: sent.body.messageId },
      { 'nobody@fabrikam.example': 'slow@northwind.example' },
    );
    await applyDeliveryReport(deps, failed, later(48));
    await applyDeliveryReport(
      deps,
      { ...delay, recipients: delay.recipients.filter((r) => r.action === 'delayed') },
      later(49),
    );
    const recipients = await recipientsOf(id);
    assert.equal(recipients['slow@northwind.example'].status, 'failed', 'a late delay never undoes a failure');
    assert.equal(recipients['gone@northwind.example'].status, 'pending', 'only what a report says changes');
  });

  it('when a report is about mail exosend did not send, or about a recipient the message did not have, then nothing changes', async () => {
    const sent = await h.send(mailRequest({ to: ['ada@fabrikam.example'] }));
    assert.deepEqual(
      await applyDeliveryReport(
        deps,
        reportOf('exo-ndr-recipient-not-found.eml', {
          id: 'someone-elses-envid',
          messageId: '<owner-own-mail@contoso.example>',
        }),
      ),
      [],
    );
    assert.deepEqual(
      await applyDeliveryReport(deps, reportOf('exo-ndr-recipient-not-found.eml', { messageId: sent.body.messageId })),
      [],
      'nobody@ was not a recipient',
    );
    assert.equal((await recipientsOf(sent.body.id))['ada@fabrikam.example'].status, 'pending');
    assert.deepEqual(await deps.suppressions.list(), []);
  });

  it('when a recipient has no news past the horizon, then it reads unknown, never delivered', async () => {
    h.restartApp({ ...q.settings, EXOSEND_DELIVERY_HORIZON_HOURS: String(0.5 / 3600) });
    const sent = await h.send(mailRequest({ to: ['ada@fabrikam.example'] }));
    assert.equal((await recipientsOf(sent.body.id))['ada@fabrikam.example'].status, 'pending');
    await sleep(700);
    const ada = (await recipientsOf(sent.body.id))['ada@fabrikam.example'];
    assert.deepEqual([ada.status, ada.source], ['unknown', 'horizon']);
  });

  it('when the admin adds, lists and removes a suppression with the CLI, then sends follow it on every instance', async () => {
    const cli = (...args: string[]) =>
      runObserved('exosend-cli', process.execPath, ['dist/cli/exosend.js', 'suppression', ...args], {
        env: { ...process.env },
      });
    const added = await cli('add', 'Legal@Contoso.example', '--reason', 'asked not to be mailed');
    assert.equal(added.code, 0, added.stderr);
    const listed = await cli('list');
    assert.deepEqual(
      JSON.parse(listed.stdout).map((s: any) => [s.recipient, s.reason]),
      [['legal@contoso.example', 'ADDED_BY_ADMIN: asked not to be mailed']],
    );
    assert.equal(
      (await h.send(mailRequest({ to: ['legal@contoso.example'] }))).body.error?.code,
      'RECIPIENT_SUPPRESSED',
    );
    const removed = await cli('remove', 'legal@contoso.example');
    assert.equal(JSON.parse(removed.stdout).wasSuppressed, true);
    assert.equal((await h.send(mailRequest({ to: ['legal@contoso.example'] }))).status, 200);
    assert.equal((await cli('add', 'not-an-address')).code, 2);
  });
});
