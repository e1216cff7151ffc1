import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { scheduledHealthCheck } from '../src/functions/health-check.js';
import { getHealth } from '../src/functions/health-status.js';
import type { HealthCheckResult } from '../src/health/health-result.js';
import { lastHealthCheck } from '../src/health/last-check.js';
import { shutdownTelemetry } from '../src/telemetry/telemetry.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { resetForHealthCheck, timer } from './health-fixture.js';

// the SDK's own usage reports go to Microsoft's endpoints, which a test must never reach
process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = 'true';
process.env.APPLICATIONINSIGHTS_SDKSTATS_DISABLED = 'true';

const recipient = 'ops@contoso.example';
const stagesOf = (stages: { stage: string; ok: boolean }[]) => stages.map((s) => `${s.stage}:${s.ok ? 'ok' : 'FAIL'}`);

describe('the health check and GET /api/health test the active transport', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(async () => {
    await shutdownTelemetry();
    await h.close();
  });
  beforeEach(() => resetForHealthCheck(h));

  const smtpAuthOff = () => h.sandbox.exchange.configureTenant(h.sandbox.app.tenantId, { smtpAuthDisabled: true });

  async function check(settings: Record<string, string | undefined>) {
    h.restartApp({ APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString, ...settings });
    await scheduledHealthCheck(timer, h.context('health'));
    const result = lastHealthCheck() as HealthCheckResult;
    const data = h.sandbox.appInsights.ofType('AvailabilityData').at(-1)?.data?.baseData ?? {};
    const said = [...h.sandbox.appInsights.bodies, ...h.logs].join('\n');
    for (const secret of h.sandbox.knownSecrets())
      assert.ok(!said.includes(secret), 'a secret or a token reached telemetry or the log');
    return { result, data };
  }

  it('when EXOSEND_TRANSPORT=graph in a tenant with SMTP AUTH off and a recipient is set, then the check sends through Graph and exosend-smtp is green with transport graph', async () => {
    smtpAuthOff();
    const { result, data } = await check({ EXOSEND_TRANSPORT: 'graph', EXOSEND_HEALTH_TO: recipient });

    assert.equal(data.name, 'exosend-smtp', 'the availability test keeps its name');
    assert.equal(data.success, true, data.message);
    assert.equal(data.properties.transport, 'graph');
    assert.match(data.message, /through Microsoft Graph/);
    assert.deepEqual(stagesOf(result.stages), ['vault:ok', 'token:ok', 'claims:ok', 'send:ok']);
    assert.equal(h.sandbox.exchange.counters.connections, 0, 'no SMTP session at all');
    assert.equal(h.sandbox.graph.counters.accepted, 1);
    const [message] = h.sandbox.exchange.messages;
    assert.equal(message?.transport, 'graph');
    assert.deepEqual(message?.envelope.rcptTo, [recipient]);
    assert.equal(message?.messageId, result.messageId);
    assert.equal(message?.claims.aud, 'https://graph.microsoft.com');
    assert.deepEqual(
      result.mailboxes?.map((m) => m.transport),
      result.mailboxes?.map(() => 'graph'),
    );
  });

  it("when EXOSEND_TRANSPORT=graph and no recipient is set, then the check stops after the Graph token's claims and sends nothing", async () => {
    smtpAuthOff();
    const { result, data } = await check({ EXOSEND_TRANSPORT: 'graph' });

    assert.equal(data.success, true, data.message);
    assert.deepEqual(stagesOf(result.stages), ['vault:ok', 'token:ok', 'claims:ok']);
    assert.equal(data.properties.mode, 'auth');
    assert.equal(h.sandbox.exchange.counters.connections, 0);
    assert.equal(h.sandbox.graph.counters.requests, 0);
    assert.equal(h.sandbox.identity.counters.tokensByAudience['https://graph.microsoft.com'], 1);
  });

  it('when EXOSEND_TRANSPORT=graph and the app lacks Mail.Send, then the check is red at claims with GRAPH_PERMISSION_MISSING', async () => {
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { graphRoles: [] });
    const { result, data } = await check({ EXOSEND_TRANSPORT: 'graph', EXOSEND_HEALTH_TO: recipient });

    assert.equal(data.success, false);
    assert.equal(result.failedStage, 'claims');
    assert.equal(result.code, 'GRAPH_PERMISSION_MISSING');
    assert.equal(data.properties.transport, 'graph');
    assert.equal(h.sandbox.graph.counters.requests, 0);
  });

  it("when EXOSEND_TRANSPORT=graph with EXOSEND_ROLES_MODE=rbac and no Mail.Send role, then Exchange's role assignment decides and the check is green", async () => {
    const { app } = h.sandbox;
    h.sandbox.identity.updateApp(app.clientId, { graphRoles: [] });
    h.sandbox.exchange.registerServicePrincipal({
      tenantId: app.tenantId,
      appId: app.clientId,
      objectId: app.servicePrincipalId,
      rbac: true,
    });
    const { result, data } = await check({
      EXOSEND_TRANSPORT: 'graph',
      EXOSEND_ROLES_MODE: 'rbac',
      EXOSEND_HEALTH_TO: recipient,
    });

    assert.equal(data.success, true, data.message);
    assert.equal(result.transport, 'graph');
    assert.equal(h.sandbox.graph.counters.accepted, 1);
  });

  it('when Graph refuses the test send (403 ErrorAccessDenied), then the check is red at send with GRAPH_ACCESS_DENIED', async () => {
    h.sandbox.graph.scopeApp(h.sandbox.app.clientId, [h.sandbox.app.secondMailbox]);
    const { result, data } = await check({ EXOSEND_TRANSPORT: 'graph', EXOSEND_HEALTH_TO: recipient });

    assert.equal(data.success, false);
    assert.equal(result.failedStage, 'send');
    assert.equal(result.code, 'GRAPH_ACCESS_DENIED');
    assert.equal(h.sandbox.exchange.messages.length, 0);
  });

  it('when EXOSEND_TRANSPORT=auto and SMTP AUTH is off, then the check goes on through Graph as a send would, green, naming SMTP_AUTH_DISABLED', async () => {
    smtpAuthOff();
    const { result, data } = await check({ EXOSEND_TRANSPORT: 'auto', EXOSEND_HEALTH_TO: recipient });

    assert.equal(data.success, true, data.message);
    assert.equal(data.properties.transport, 'graph');
    assert.equal(data.properties.smtpClosed, 'SMTP_AUTH_DISABLED');
    assert.deepEqual(stagesOf(result.stages), ['vault:ok', 'token:ok', 'claims:ok', 'send:ok']);
    assert.equal(h.sandbox.exchange.messages.length, 1);
    assert.equal(h.sandbox.exchange.messages[0]?.transport, 'graph');
  });

  it("when EXOSEND_TRANSPORT=auto and SMTP works, then the check is SMTP's, with transport smtp", async () => {
    const { result, data } = await check({ EXOSEND_TRANSPORT: 'auto', EXOSEND_HEALTH_TO: recipient });

    assert.equal(data.success, true, data.message);
    assert.equal(data.properties.transport, 'smtp');
    assert.equal(data.properties.smtpClosed, undefined);
    assert.deepEqual(stagesOf(result.stages), [
      'vault:ok',
      'token:ok',
      'claims:ok',
      'connect:ok',
      'auth:ok',
      'send:ok',
    ]);
    assert.equal(h.sandbox.graph.counters.requests, 0);
  });

  it('when EXOSEND_TRANSPORT=smtp and SMTP AUTH is off, then the check stays red with SMTP_AUTH_DISABLED (no Graph behind it)', async () => {
    smtpAuthOff();
    const { result, data } = await check({ EXOSEND_HEALTH_TO: recipient });

    assert.equal(data.success, false);
    assert.equal(result.code, 'SMTP_AUTH_DISABLED');
    assert.equal(data.properties.transport, 'smtp');
    assert.equal(h.sandbox.graph.counters.requests, 0);
  });

  it("when EXOSEND_TRANSPORT=graph, then GET /api/health checks the Graph token, not Exchange's, and is healthy with SMTP AUTH off", async () => {
    smtpAuthOff();
    h.restartApp({ EXOSEND_TRANSPORT: 'graph' });
    h.sandbox.identity.resetCounters();
    const reply = await h.http(getHealth, { method: 'GET', route: 'health' });

    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(reply.body.preflight.transports, ['graph']);
    assert.deepEqual(stagesOf(reply.body.preflight.stages), ['vault:ok', 'token:ok', 'claims:ok']);
    assert.equal(h.sandbox.identity.counters.tokensByAudience['https://graph.microsoft.com'], 1);
    assert.equal(h.sandbox.identity.counters.tokensByAudience['https://outlook.office365.com'] ?? 0, 0);
  });

  it('when EXOSEND_TRANSPORT=graph and Mail.Send is missing, then GET /api/health is 503 GRAPH_PERMISSION_MISSING', async () => {
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { graphRoles: [] });
    h.restartApp({ EXOSEND_TRANSPORT: 'graph' });
    const reply = await h.http(getHealth, { method: 'GET', route: 'health' });

    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.code, 'GRAPH_PERMISSION_MISSING');
  });

  it('when an auto mailbox has moved to Graph, then GET /api/health checks the Graph token', async () => {
    smtpAuthOff();
    h.restartApp({ EXOSEND_TRANSPORT: 'auto' });
    assert.equal((await h.send(mailRequest())).status, 200);
    const reply = await h.http(getHealth, { method: 'GET', route: 'health' });

    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.ok(reply.body.preflight.transports.includes('graph'), JSON.stringify(reply.body.preflight));
  });

  it("when EXOSEND_TRANSPORT=graph and a message went out, then GET /api/health shows each mailbox's Graph budget: requests in flight, requests in 10 minutes, the day", async () => {
    h.restartApp({ EXOSEND_TRANSPORT: 'graph' });
    assert.equal((await h.send(mailRequest())).status, 200);
    const reply = await h.http(getHealth, { method: 'GET', route: 'health' });

    const mine = reply.body.budgetsByTransport.filter((b: { mailbox: string }) => b.mailbox === h.sandbox.app.mailbox);
    assert.equal(mine.length, 1, JSON.stringify(reply.body.budgetsByTransport));
    const [graph] = mine;
    assert.equal(graph.transport, 'graph');
    assert.deepEqual(graph.concurrentRequests, { used: 0, limit: 4 });
    assert.deepEqual(graph.requestsPer10Minutes, { used: 1, limit: 10_000, windowSeconds: 600, scope: 'local' });
    assert.equal(graph.day.used, 1);
    assert.equal(graph.minute, undefined, 'no SMTP fields on the Graph entry');
  });

  it("when EXOSEND_TRANSPORT=auto, then each mailbox shows both budgets, and with smtp only SMTP's: minute, sessions, day", async () => {
    h.restartApp({ EXOSEND_TRANSPORT: 'auto' });
    const auto = await h.http(getHealth, { method: 'GET', route: 'health' });
    const ways = (body: { budgetsByTransport: { mailbox: string; transport: string }[] }) =>
      body.budgetsByTransport.filter((b) => b.mailbox === h.sandbox.app.mailbox).map((b) => b.transport);
    assert.deepEqual(ways(auto.body), ['smtp', 'graph']);

    h.restartApp({});
    const smtp = await h.http(getHealth, { method: 'GET', route: 'health' });
    assert.deepEqual(ways(smtp.body), ['smtp']);
    const [entry] = smtp.body.budgetsByTransport;
    assert.deepEqual(Object.keys(entry).sort(), ['day', 'mailbox', 'minute', 'scope', 'sessions', 'transport']);
    assert.equal(entry.sessions.limit, 3);
  });
});
