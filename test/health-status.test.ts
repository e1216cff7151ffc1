import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runHealthCheck } from '../src/health/health-check.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { forgetHealthChecks } from '../src/health/last-check.js';
import { getHealth } from '../src/functions/health-status.js';
import { sandboxScenarios } from '../local/sandbox/index.js';
import { mailRequest, startHarness, type Harness } from './harness.js';

const stagesOf = (stages: { stage: string; ok: boolean }[]) => stages.map((s) => `${s.stage}:${s.ok ? 'ok' : 'FAIL'}`);

describe('GET /api/health', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());
  beforeEach(() => {
    h.reset();
    forgetHealthChecks();
  });

  const health = () => h.http(getHealth, { method: 'GET', route: 'health' });

  it('when the setup is healthy and no check has run yet, then 200 with a passing preflight and no SMTP connection', async () => {
    const reply = await health();

    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.status, 'healthy');
    assert.equal(reply.body.lastCheck, null);
    assert.equal(reply.body.preflight.ok, true);
    assert.deepEqual(stagesOf(reply.body.preflight.stages), ['vault:ok', 'token:ok', 'claims:ok']);
    assert.equal(reply.headers['cache-control'], 'no-store');
    assert.equal(h.sandbox.exchange.counters.connections, 0, 'the preflight never opens an SMTP session');
  });

  it('when the last check passed, then 200 with that check', async () => {
    const check = await runHealthCheck(getRuntime);
    const reply = await health();

    assert.equal(reply.status, 200);
    assert.equal(reply.body.lastCheck.runId, check.runId);
    assert.equal(reply.body.lastCheck.ok, true);
  });

  it('when a token is cached, then the preflight makes no token request', async () => {
    await health();
    h.sandbox.identity.resetCounters();
    assert.equal((await health()).status, 200);
    assert.equal(h.sandbox.identity.counters.tokenRequests, 0);
  });

  // A load balancer or a monitor polls /api/health every few seconds: each poll that read the vault
  // or asked Entra again would spend the vault's and Entra's throttling budgets on nothing.
  it('when /api/health is polled on a cold worker, then the vault is read once and one token is requested, for all the polls and the sends after them', async () => {
    for (let poll = 0; poll < 3; poll++) assert.equal((await health()).status, 200);
    assert.equal((await h.send(mailRequest())).status, 200);
    assert.equal(h.sandbox.vault.reads, 1, 'vault reads');
    assert.equal(h.sandbox.identity.counters.tokenRequests, 1, 'token requests');
  });

  it('when sends have warmed the worker, then /api/health reads neither the vault nor Entra', async () => {
    assert.equal((await h.send(mailRequest())).status, 200);
    h.sandbox.vault.resetCounters();
    h.sandbox.identity.resetCounters();
    for (let poll = 0; poll < 3; poll++) assert.equal((await health()).status, 200);
    assert.equal(h.sandbox.vault.reads, 0, 'vault reads');
    assert.equal(h.sandbox.identity.counters.tokenRequests, 0, 'token requests');
  });

  it('when the client secret is wrong, then 503 with the preflight diagnosis and Retry-After', async () => {
    sandboxScenarios['wrong-secret'](h.sandbox);
    const reply = await health();

    assert.equal(reply.status, 503);
    assert.equal(reply.body.status, 'unhealthy');
    assert.deepEqual(stagesOf(reply.body.preflight.stages), ['vault:ok', 'token:FAIL']);
    assert.equal(reply.body.error.code, 'INVALID_CLIENT_SECRET');
    assert.equal(reply.body.error.diagnosis.stage, 'token');
    assert.ok(reply.body.error.diagnosis.fix);
    assert.match(reply.headers['retry-after'] ?? '', /^\d+$/);
  });

  it('when the token lacks SMTP.SendAsApp, then 503 with TOKEN_ROLE_MISSING and Exchange is never contacted', async () => {
    sandboxScenarios['missing-role'](h.sandbox);
    const reply = await health();

    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.code, 'TOKEN_ROLE_MISSING');
    assert.equal(h.sandbox.exchange.counters.connections, 0);
  });

  it("when the preflight passes but the last check failed, then 503 with the last check's diagnosis", async () => {
    sandboxScenarios['smtp-auth-disabled'](h.sandbox);
    const check = await runHealthCheck(getRuntime);
    const reply = await health();

    assert.equal(reply.status, 503);
    assert.equal(reply.body.preflight.ok, true);
    assert.equal(reply.body.lastCheck.runId, check.runId);
    assert.equal(reply.body.lastCheck.failedStage, 'auth');
    assert.equal(reply.body.error.code, 'SMTP_AUTH_DISABLED');
    assert.ok(h.logs.some((l) => l.includes('"event":"exosend.unhealthy"') && l.includes('SMTP_AUTH_DISABLED')));
  });

  it('when the settings are invalid, then 503 with CONFIGURATION_INVALID naming the variable', async () => {
    h.restartApp({ EXOSEND_MAILBOX: undefined });
    const reply = await health();

    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.code, 'CONFIGURATION_INVALID');
    assert.match(reply.body.error.message, /EXOSEND_MAILBOX/);
  });

  it('when it answers, then no reply holds a secret or a token', async () => {
    const replies = [await health()];
    sandboxScenarios['wrong-secret'](h.sandbox);
    h.restartApp();
    replies.push(await health());
    const said = JSON.stringify(replies) + h.logs.join('\n');
    for (const secret of h.sandbox.knownSecrets())
      assert.ok(!said.includes(secret), 'a secret or a token was answered');
  });
});
