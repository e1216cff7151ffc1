import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { unrelatedMail } from '../local/sandbox/delivery-reports.js';
import { scheduledDeliveryReports } from '../src/functions/delivery-reports.js';
import { messageStatus } from '../src/functions/message-status.js';
import { lastReaderRun } from '../src/pipeline/reader-state.js';
import { SuppressionList } from '../src/queue/suppression-list.js';
import { availabilityOf } from '../src/health/availability.js';
import { runHealthCheck } from '../src/health/health-check.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { parseDeliveryReport } from '../src/mail/delivery-report.js';
import { applyDeliveryReport } from '../src/queue/apply-report.js';
import { DeliveryStore } from '../src/queue/delivery-store.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';

const timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

describe('the delivery reports reader: the sending mailbox Inbox read back through Graph', () => {
  let h: Harness;
  let q: QueueFixture;
  let suppressions: SuppressionList;
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
    suppressions = new SuppressionList(q.storage.suppressions);
  });
  after(async () => {
    await q.close();
    await h.close();
  });
  beforeEach(async () => {
    await q.reset();
    h.sandbox.reports.delayInMs = 20;
    for (const s of await suppressions.list()) await suppressions.remove(s.recipient);
    await q.storage.inboxCursors.createTable();
    for await (const e of q.storage.inboxCursors.listEntities())
      await q.storage.inboxCursors.deleteEntity(e.partitionKey!, e.rowKey!);
    const outcomes = q.storage.queue('outbound-mail-outcomes');
    await outcomes.createIfNotExists();
    await outcomes.clearMessages();
  });

  const tick = async () => {
    await scheduledDeliveryReports(timer, h.context('deliveryReports'));
    return lastReaderRun()!;
  };
  const recipientsOf = async (id: string) =>
    Object.fromEntries(
      (
        await h.http(messageStatus, { method: 'GET', route: `messages/${id}`, params: { id } })
      ).body.delivery.recipients.map((r: any) => [r.recipient, r]),
    );
  const reportsLanded = async (count: number) => {
    for (let i = 0; i < 400 && h.sandbox.reports.dropped.ndr + h.sandbox.reports.dropped.delay < count; i++)
      await sleep(25);
    assert.equal(
      h.sandbox.reports.dropped.ndr + h.sandbox.reports.dropped.delay,
      count,
      'the stand-in dropped its reports',
    );
  };
  const reportIds = () =>
    h.sandbox.inboxes
      .list(h.sandbox.app.mailbox)
      .filter((m) => m.messageClass.startsWith('REPORT.IPM.Note.') && !m.messageClass.endsWith('IPNRN'))
      .map((m) => m.id);

  it('when Exchange drops its reports into the Inbox, then each recipient reads its fate, the hard bounce is suppressed, only reports are fetched and nothing is touched', async () => {
    h.restartApp({ ...q.settings, APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString });
    h.sandbox.appInsights.clear();
    const sent = await h.send(
      mailRequest({
        to: ['ada@fabrikam.example', 'nobody@fabrikam.example', 'full@fabrikam.example'],
        cc: ['quarantine@fabrikam.example', 'delay@fabrikam.example'],
      }),
    );
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    // the owner's mail about exosend's message: an out-of-office reply, a forwarded NDR, a read receipt
    for (const mail of unrelatedMail(h.sandbox.app.mailbox, sent.body.messageId))
      h.sandbox.inboxes.add(h.sandbox.app.mailbox, mail);
    await reportsLanded(2);

    const run = await tick();
    assert.deepEqual(
      run.mailboxes.map((m) => [m.mailbox, m.ok, m.reports]),
      [[h.sandbox.app.mailbox, true, 2]],
    );
    const r = await recipientsOf(sent.body.id);
    const view = (a: string) => [r[a].status, r[a].statusCode, r[a].diagnosis, r[a].source];
    assert.deepEqual(
      view('ada@fabrikam.example').slice(0, 1),
      ['pending'],
      'no report: Exchange says nothing of a delivery exosend did not ask to hear of',
    );
    assert.deepEqual(view('nobody@fabrikam.example'), ['failed', '5.1.10', 'RECIPIENT_NOT_FOUND', 'report']);
    assert.deepEqual(view('full@fabrikam.example'), ['failed', '5.2.2', 'RECIPIENT_MAILBOX_FULL', 'report']);
    assert.deepEqual(view('quarantine@fabrikam.example'), ['quarantined', '5.7.1', 'BLOCKED_AS_SPAM', 'report']);
    assert.deepEqual(view('delay@fabrikam.example'), ['delayed', '4.4.7', 'DELIVERY_DELAYED', 'report']);
    assert.deepEqual(
      (await suppressions.list()).map((s) => s.recipient),
      ['nobody@fabrikam.example'],
      'only the address that does not exist',
    );

    assert.deepEqual(h.sandbox.inboxes.mimeReads.sort(), reportIds().sort(), 'the MIME of reports only');
    assert.deepEqual(h.sandbox.inboxes.changes, [], 'no message marked, moved or deleted');
    assert.ok(h.sandbox.inboxes.list(h.sandbox.app.mailbox).every((m) => !m.isRead));

    const events = (
      await q.storage.queue('outbound-mail-outcomes').receiveMessages({ numberOfMessages: 32 })
    ).receivedMessageItems.map((m) => JSON.parse(m.messageText));
    assert.deepEqual(events.map((e) => [e.kind, e.id, e.recipient, e.status]).sort(), [
      ['message', sent.body.id, undefined, 'sent'],
      ['recipient', sent.body.id, 'delay@fabrikam.example', 'delayed'],
      ['recipient', sent.body.id, 'full@fabrikam.example', 'failed'],
      ['recipient', sent.body.id, 'nobody@fabrikam.example', 'failed'],
      ['recipient', sent.body.id, 'quarantine@fabrikam.example', 'quarantined'],
    ]);

    const named = (name: string) =>
      h.sandbox.appInsights
        .ofType('EventData')
        .filter((e) => e.data?.baseData['name'] === name)
        .map((e) => (e.data?.baseData as { properties: Record<string, string> }).properties);
    for (let i = 0; i < 100 && named('exosend.bounce').length < 3; i++) await sleep(50);
    assert.deepEqual(
      named('exosend.bounce')
        .map((p) => [p['status'], p['statusCode'], p['code'], p['id']])
        .sort(),
      [
        ['failed', '5.1.10', 'RECIPIENT_NOT_FOUND', sent.body.id],
        ['failed', '5.2.2', 'RECIPIENT_MAILBOX_FULL', sent.body.id],
        ['quarantined', '5.7.1', 'BLOCKED_AS_SPAM', sent.body.id],
      ],
      'one exosend.bounce per bounce, with its code; never the address',
    );
    assert.ok(!JSON.stringify(named('exosend.bounce')).includes('@fabrikam.example'));
    assert.deepEqual(
      named('exosend.reader').map((p) => p['ok']),
      ['true'],
    );

    const again = await h.send(mailRequest({ to: ['nobody@fabrikam.example'] }));
    assert.equal(again.status, 403);
    assert.equal(again.body.error.code, 'RECIPIENT_SUPPRESSED');

    const quiet = await tick();
    assert.deepEqual(
      [quiet.mailboxes[0]!.requests, quiet.mailboxes[0]!.reports],
      [1, 0],
      'the next tick reads only what is new: one delta page',
    );
  });

  it('when a send fails for good, then its outcome goes on the outcomes queue with the code, as small JSON with no body', async () => {
    h.sandbox.exchange.failNext('data', '550 5.7.60 SMTP; Client does not have permissions to send as this sender');
    const refused = await h.send(mailRequest({ subject: 'secret subject', text: 'secret body' }));
    assert.equal(refused.status, 502, JSON.stringify(refused.body));
    const items = (await q.storage.queue('outbound-mail-outcomes').receiveMessages({ numberOfMessages: 32 }))
      .receivedMessageItems;
    assert.deepEqual(
      items.map((m) => JSON.parse(m.messageText)).map((e) => [e.kind, typeof e.id, e.status, e.code]),
      [['message', 'string', 'failed', 'SEND_AS_DENIED']],
    );
    assert.ok(items.every((m) => m.messageText.length < 300 && !/secret/.test(m.messageText)));
  });

  it('when the Graph token has no Mail.Read, then the reader reports READER_ACCESS_DENIED with both fixes, and sending goes on', async () => {
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { graphRoles: ['Mail.Send'] });
    const run = await tick();
    assert.equal(run.mailboxes[0]!.code, 'READER_ACCESS_DENIED');
    assert.match(
      run.mailboxes[0]!.diagnosis!.fix,
      /New-ManagementRoleAssignment -App .* -Role "Application Mail\.Read" -CustomResourceScope exosend-mailboxes/,
    );
    assert.match(run.mailboxes[0]!.diagnosis!.fix, /Microsoft Graph > Application permissions > Mail\.Read/);
    assert.doesNotMatch(
      `${run.mailboxes[0]!.diagnosis!.cause}\n${run.mailboxes[0]!.diagnosis!.fix}`,
      /<(client id|mailbox|tenant id)>/,
      'every placeholder names this app and mailbox',
    );
    assert.ok(
      run.mailboxes[0]!.diagnosis!.fix.includes(h.sandbox.app.clientId) &&
        run.mailboxes[0]!.diagnosis!.cause.includes(h.sandbox.app.mailbox),
    );
    assert.equal((await h.send(mailRequest({}))).status, 200, 'sending is not the reader');
    const check = availabilityOf(await runHealthCheck(getRuntime));
    assert.deepEqual(
      [check.success, check.properties['reader']],
      [true, 'READER_ACCESS_DENIED'],
      'the check stays green and says the reader is refused',
    );
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { graphRoles: ['Mail.Send', 'Mail.Read'] });
    h.restartApp(q.settings);
    await tick();
    assert.equal(availabilityOf(await runHealthCheck(getRuntime)).properties['reader'], 'ok');
  });

  it('when Graph refuses the mailbox (403, outside the RBAC scope), then that is READER_ACCESS_DENIED for it, and sending goes on', async () => {
    h.restartApp({ ...q.settings, EXOSEND_ROLES_MODE: 'rbac' });
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { roles: [], graphRoles: [] });
    h.sandbox.exchange.registerServicePrincipal({
      tenantId: h.sandbox.app.tenantId,
      appId: h.sandbox.app.clientId,
      objectId: h.sandbox.app.servicePrincipalId,
      rbac: true,
    });
    h.sandbox.graph.scopeApp(h.sandbox.app.clientId, [h.sandbox.app.secondMailbox]);
    const run = await tick();
    assert.deepEqual(
      [run.mailboxes[0]!.code, run.mailboxes[0]!.diagnosis?.smtp],
      ['READER_ACCESS_DENIED', '403 ErrorAccessDenied: Access is denied. Check credentials and try again.'],
    );
    assert.equal((await h.send(mailRequest({}))).status, 200, 'sending is not the reader');
  });

  it('when Graph throttles the reader (429), then it waits out Retry-After with no request at all, and then reads on', async () => {
    for (let i = 0; i < 6; i++)
      assert.equal((await h.send(mailRequest({ to: [`nobody+${i}@fabrikam.example`] }))).status, 200);
    await reportsLanded(6);
    h.sandbox.graph.inbox.setLimits({ requestsPerWindow: 3, windowInMs: 1500 });
    const first = await tick();
    assert.equal(first.mailboxes[0]!.code, 'GRAPH_THROTTLED');
    assert.equal(h.sandbox.graph.inbox.counters.throttled, 1);
    const served = h.sandbox.graph.inbox.counters.deltaPages + h.sandbox.graph.inbox.counters.mimeReads;
    const waiting = await tick();
    assert.equal(waiting.mailboxes[0]!.skipped, 'throttled');
    assert.equal(
      h.sandbox.graph.inbox.counters.deltaPages +
        h.sandbox.graph.inbox.counters.mimeReads +
        h.sandbox.graph.inbox.counters.throttled -
        1,
      served,
      'no request before Retry-After',
    );
    for (let i = 0; i < 10 && (await suppressions.list()).length < 6; i++) {
      await sleep(1100);
      await tick();
    }
    assert.equal(
      (await suppressions.list()).length,
      6,
      'every report read in the end: a read cut short resumes after the last report it applied',
    );
  });

  it('when a few hundred messages meet known fates, then every record ends right per recipient, the reader keeps to its budget and is never throttled, and no other mail is touched', async () => {
    // Graph's 10,000 requests per 10 minutes per mailbox, scaled down: more than one tick's budget
    // (200), less than the whole work (about 245 requests); ticks are a window apart, as the default
    // schedule's 5 minutes are well inside Graph's 10
    h.sandbox.graph.inbox.setLimits({ requestsPerWindow: 210, windowInMs: 600_000 });
    const fates = [
      'delivered',
      'delivered',
      'nobody',
      'full',
      'quarantine',
      'delay',
      'nobody',
      'full',
      'delay',
      'nobody',
    ] as const;
    const expected: Record<string, string> = {
      delivered: 'pending',
      nobody: 'failed',
      full: 'failed',
      quarantine: 'quarantined',
      delay: 'delayed',
    };
    const sent: { id: string; to: string; fate: (typeof fates)[number] }[] = [];
    const total = 300;
    for (let start = 0; start < total; start += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, total - start) }, async (_, k) => {
          const i = start + k;
          const fate = fates[i % fates.length]!;
          const to = `${fate === 'delivered' ? 'ada' : fate}+${i}@fabrikam.example`;
          const reply = await h.send(mailRequest({ to: [to], subject: `run ${i}` }));
          assert.equal(reply.status, 200, JSON.stringify(reply.body));
          sent.push({ id: reply.body.id, to, fate });
        }),
      );
    }
    const reports = sent.filter((s) => s.fate !== 'delivered').length;
    await reportsLanded(reports);
    const unrelated = unrelatedMail(
      h.sandbox.app.mailbox,
      (await h.http(messageStatus, { method: 'GET', route: `messages/${sent[0]!.id}`, params: { id: sent[0]!.id } }))
        .body.messageId,
    );
    for (const mail of unrelated) h.sandbox.inboxes.add(h.sandbox.app.mailbox, mail);

    const runs = [];
    for (let i = 0; i < 6; i++) {
      const run = await tick();
      runs.push(run.mailboxes[0]!);
      if (run.mailboxes[0]!.requests === 1 && run.mailboxes[0]!.reports === 0) break;
      h.sandbox.graph.inbox.windowPassed();
    }
    assert.ok(runs.length >= 2, 'the work took more than one tick');
    assert.equal(h.sandbox.graph.inbox.counters.throttled, 0, 'never a 429');
    // the budget docs/delivery.md states
    assert.ok(
      runs.every((r) => r.ok && r.requests <= 200),
      JSON.stringify(runs.map((r) => [r.ok, r.code, r.requests])),
    );

    const wrong: string[] = [];
    for (const s of sent) {
      const r = (await recipientsOf(s.id))[s.to];
      if (r?.status !== expected[s.fate]) wrong.push(`${s.to}: ${r?.status}`);
    }
    assert.deepEqual(wrong, []);
    assert.equal(
      (await suppressions.list()).length,
      sent.filter((s) => s.fate === 'nobody').length,
      'every address that does not exist, and only those',
    );
    assert.deepEqual(h.sandbox.inboxes.mimeReads.length, reports, 'each report fetched once, nothing else');
    assert.deepEqual(h.sandbox.inboxes.changes, []);
  });

  it("when a report reads earlier than exosend's own record of the send, then it still replaces pending", async () => {
    // Regression: in the run of 300, one delay report in a few hundred left its recipient pending,
    // because its time (Exchange's, to the second) read earlier than the record's (exosend's, in ms)
    const sent = await h.send(mailRequest({ to: ['delay@fabrikam.example'] }));
    await reportsLanded(1);
    const report = parseDeliveryReport(h.sandbox.inboxes.list(h.sandbox.app.mailbox).at(-1)!.raw)!;
    const deps = { store: q.store, deliveries: new DeliveryStore(q.storage.deliveries), suppressions };
    const aSecondBefore = new Date(Date.now() - 1_000).toISOString();
    assert.equal((await applyDeliveryReport(deps, report, aSecondBefore)).length, 1);
    assert.equal((await recipientsOf(sent.body.id))['delay@fabrikam.example'].status, 'delayed');
  });
});
