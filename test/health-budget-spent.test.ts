import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { getHealth } from '../src/functions/health-status.js';
import { scheduledHealthCheck } from '../src/functions/health-check.js';
import { forgetHealthChecks } from '../src/health/last-check.js';
import { shutdownTelemetry } from '../src/telemetry/telemetry.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { timer } from './health-fixture.js';

// Issue 22: one function-key holder sent 20 requests of 500 recipients and spent the mailbox's
// 10,000-recipient day; every other send got 429 for about a day, and /api/health answered
// `healthy` all the while, so nothing alerted. A spent day now reads `degraded`, and the timer's
// availability result carries budgetSpent, which the alert rule mailbox-day-spent selects on.
describe('GET /api/health with a spent day', () => {
  let h: Harness;
  const day = { EXOSEND_RECIPIENTS_PER_DAY: '3' };
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(async () => {
    await shutdownTelemetry();
    await h.close();
  });
  beforeEach(() => {
    h.reset({ ...day, APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString });
    forgetHealthChecks();
  });

  const health = () => h.http(getHealth, { method: 'GET', route: 'health' });

  it('when the day has room left, then 200 healthy with no budgetSpent', async () => {
    assert.equal((await h.send(mailRequest({ to: ['a@fabrikam.example', 'b@fabrikam.example'] }))).status, 200);
    const reply = await health();
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.status, 'healthy');
    assert.equal(reply.body.budgetSpent, undefined);
  });

  it("when a caller with a function key spends the mailbox's day, then 503 degraded naming the mailbox and when it frees, and the check's availability result carries budgetSpent", async () => {
    assert.equal(
      (await h.send(mailRequest({ to: ['a@fabrikam.example', 'b@fabrikam.example', 'c@fabrikam.example'] }))).status,
      200,
    );
    assert.equal((await h.send(mailRequest())).status, 429, 'the day is spent');

    const reply = await health();
    assert.equal(reply.status, 503, JSON.stringify(reply.body));
    assert.equal(reply.body.status, 'degraded');
    assert.equal(reply.body.preflight.ok, true, 'mail itself works');
    const [spent] = reply.body.budgetSpent;
    assert.equal(spent.code, 'DAILY_RECIPIENT_LIMIT_REACHED');
    assert.equal(spent.mailbox, reply.body.budgets[0].mailbox);
    assert.match(spent.cause, new RegExp(spent.mailbox));
    // the rolling day (24 h by default) frees about a day after the send, not sooner
    assert.ok(
      spent.retryAfterSeconds > 23 * 3600 && spent.retryAfterSeconds <= 25 * 3600,
      String(spent.retryAfterSeconds),
    );
    assert.equal(reply.headers['retry-after'], String(spent.retryAfterSeconds));
    assert.equal(reply.body.error.code, 'DAILY_RECIPIENT_LIMIT_REACHED');
    assert.equal(reply.body.budgets[0].day.freesInSeconds, spent.retryAfterSeconds);
    assert.ok(h.logs.some((l) => l.includes('"event":"exosend.degraded"')));

    await scheduledHealthCheck(timer, h.context('health'));
    const availability = h.sandbox.appInsights.ofType('AvailabilityData').at(-1)?.data?.baseData ?? {};
    assert.equal(availability.success, true, 'a spent day is not a failed check');
    assert.match(
      String(availability.properties?.budgetSpent),
      new RegExp(`^${spent.mailbox} day 3/3 frees in \\d+ s$`),
    );
  });
});
