import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { getHealth } from '../src/functions/health-status.js';
import { availabilityOf } from '../src/health/availability.js';
import { runHealthCheck } from '../src/health/health-check.js';
import { forgetHealthChecks } from '../src/health/last-check.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { mailRequest, startHarness, type Harness } from './harness.js';

const run = promisify(execFile);

describe('several mailboxes (EXOSEND_MAILBOXES)', () => {
  let h: Harness;
  let second: string;
  before(async () => {
    h = await startHarness(import.meta.filename);
    second = h.sandbox.app.secondMailbox;
  });
  after(() => h.close());
  beforeEach(() => {
    h.resetUnpaced({ EXOSEND_MAILBOXES: second });
    forgetHealthChecks();
  });

  it('when From is a listed mailbox, then it authenticates as that mailbox (its own Sent Items); another allowed sender goes through the default mailbox', async () => {
    const before = h.sandbox.exchange.messages.length;
    const asSecond = await h.send(mailRequest({ from: second, subject: 'from the second mailbox' }));
    assert.equal(asSecond.status, 200, JSON.stringify(asSecond.body));
    const asAlias = await h.send(mailRequest({ from: h.sandbox.app.sendAsAddress, subject: 'from the alias' }));
    assert.equal(asAlias.status, 200, JSON.stringify(asAlias.body));
    const asDefault = await h.send(mailRequest({ subject: 'from the default' }));
    assert.equal(asDefault.status, 200);

    const [a, b, c] = h.sandbox.exchange.messages.slice(before);
    assert.equal(a?.mailbox, second, 'user= is the From when it is a listed mailbox');
    assert.equal(a?.envelope.mailFrom, second);
    assert.equal(b?.mailbox, h.sandbox.app.mailbox, 'an alias goes through the default mailbox, with Send As');
    assert.equal(b?.envelope.mailFrom, h.sandbox.app.sendAsAddress);
    assert.equal(c?.mailbox, h.sandbox.app.mailbox);

    const budgets = new Map([...getRuntime().transports].map(([mailbox, t]) => [mailbox, t.budget]));
    assert.equal((await budgets.get(second)!.usage()).minute.used, 1, 'the second mailbox counted its own message');
    assert.equal(
      (await budgets.get(h.sandbox.app.mailbox)!.usage()).minute.used,
      2,
      'the default mailbox counted the other two',
    );
  });

  it('when the app has no FullAccess on a listed mailbox, then a send from it fails with the Add-MailboxPermission for that mailbox, and the health check names it', async () => {
    h.sandbox.exchange.revokeFullAccess(second, h.sandbox.app.clientId);
    const reply = await h.send(mailRequest({ from: second }));
    assert.equal(reply.status, 502, JSON.stringify(reply.body));
    assert.equal(reply.body.error.diagnosis.code, 'AUTH_UNSUCCESSFUL');
    assert.match(
      reply.body.error.diagnosis.fix,
      new RegExp(`Add-MailboxPermission -Identity ${second.replace('.', '\\.')} `),
    );

    const result = await runHealthCheck(getRuntime);
    assert.equal(result.ok, false);
    assert.equal(result.failedMailbox, second);
    assert.equal(result.failedStage, 'auth');
    assert.deepEqual(
      result.mailboxes?.map((m) => [m.mailbox, m.ok]),
      [
        [h.sandbox.app.mailbox, true],
        [second, false],
      ],
    );
    assert.match(result.diagnosis?.fix ?? '', new RegExp(`-Identity ${second.replace('.', '\\.')} `));
  });

  it('when every mailbox is set up, then the health check passes AUTH for each, and GET /api/health shows the minute, sessions and day of each', async () => {
    await h.send(mailRequest({ from: second, cc: ['grace@fabrikam.example'], bcc: ['audit@contoso.example'] }));
    const authBefore = h.sandbox.exchange.counters.authSuccesses;
    const result = await runHealthCheck(getRuntime);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(h.sandbox.exchange.counters.authSuccesses - authBefore, 2, 'one AUTH per mailbox');
    assert.deepEqual(
      result.mailboxes?.map((m) => m.ok),
      [true, true],
    );
    const properties = availabilityOf(result).properties;
    assert.equal(properties['mailboxesChecked'], '2');
    assert.match(
      properties['budgets'] ?? '',
      new RegExp(`${second.replace('.', '\\.')} minute 1/100000 sessions \\d/3 day 3/10000`),
      'the availability result carries each budget',
    );

    const reply = await h.http(getHealth, { method: 'GET', route: 'health' });
    assert.equal(reply.status, 200);
    const secondBudget = reply.body.budgets.find((b: { mailbox: string }) => b.mailbox === second);
    assert.deepEqual(secondBudget.minute, { used: 1, limit: 100000, windowSeconds: 60 });
    assert.deepEqual(
      secondBudget.day,
      { used: 3, limit: 10000, windowHours: 24 },
      'To, Cc and Bcc each count against the day',
    );
    assert.equal(secondBudget.connections.limit, 3);
    assert.equal(secondBudget.scope, 'local', 'no storage here: this process counts alone');
  });

  it('when the doctor runs, then it checks AUTH for every listed mailbox', async () => {
    h.sandbox.exchange.revokeFullAccess(second, h.sandbox.app.clientId);
    const doctor = await run(process.execPath, ['dist/cli/exosend.js', 'doctor', '--json'], {
      env: { ...process.env },
    }).catch((error: { stdout: string; code: number }) => error);
    const report = h.observe(JSON.parse(doctor.stdout));
    assert.equal(report.ok, false);
    assert.equal(report.diagnosis.code, 'AUTH_UNSUCCESSFUL');
    assert.match(report.diagnosis.fix, new RegExp(`-Identity ${second.replace('.', '\\.')} `));
    assert.ok(report.stages.some((s: { note?: string; ok: boolean }) => !s.ok && s.note?.includes(second)));
  });
});
