import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { scheduledHealthCheck } from '../src/functions/health-check.js';
import type { HealthCheckResult } from '../src/health/health-result.js';
import { lastHealthCheck } from '../src/health/last-check.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { sandboxScenarios, type SandboxScenarioName, type TelemetryEnvelope } from '../local/sandbox/index.js';
import { flush, shutdownTelemetry } from '../src/telemetry/telemetry.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { resetForHealthCheck, timer } from './health-fixture.js';

// the SDK's own usage reports go to Microsoft's endpoints, which a test must never reach
process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = 'true';
process.env.APPLICATIONINSIGHTS_SDKSTATS_DISABLED = 'true';

const recipient = 'ops@contoso.example';
const probeBody = 'This is a test message from exosend';

describe('the timer health check', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(async () => {
    await shutdownTelemetry();
    await h.close();
  });
  beforeEach(() => resetForHealthCheck(h));

  /** Starts the app cold with telemetry on (and these settings), runs one timer invocation. */
  async function check(settings: Record<string, string | undefined> = {}) {
    h.restartApp({ APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString, ...settings });
    return runTimer();
  }

  async function runTimer() {
    await scheduledHealthCheck(timer, h.context('health'));
    const result = lastHealthCheck() as HealthCheckResult;
    const availability = h.sandbox.appInsights.ofType('AvailabilityData');
    assertNothingSecret();
    return { result, availability, data: availability.at(-1)?.data?.baseData ?? {} };
  }

  function checkLine(runId: string): Record<string, unknown> {
    const line = h.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.event === 'exosend.check' && l.runId === runId);
    assert.ok(line, `no exosend.check line for ${runId} in ${h.logs.join('\n')}`);
    return line;
  }

  /** No envelope and no log line carries a secret, a token or the test message's body. */
  function assertNothingSecret() {
    const said = [...h.sandbox.appInsights.bodies, ...h.logs].join('\n');
    for (const secret of h.sandbox.knownSecrets())
      assert.ok(!said.includes(secret), 'a secret or a token reached telemetry or the log');
    assert.ok(!said.includes(probeBody), "the test message's body reached telemetry or the log");
  }

  it('when the setup is healthy and a recipient is set, then one green exosend-smtp result with stage timings and one message at Exchange', async () => {
    const { result, availability, data } = await check({ EXOSEND_HEALTH_TO: recipient });

    assert.equal(availability.length, 1);
    assert.equal(data.name, 'exosend-smtp');
    assert.equal(data.success, true, data.message);
    assert.equal(data.id, result.runId);
    assert.match(data.duration, /^\d\d:\d\d:\d\d\.\d+$/);
    const { properties } = data;
    for (const stage of ['vault', 'token', 'claims', 'connect', 'auth', 'send']) {
      assert.ok(Number.isFinite(Number(properties[`${stage}Ms`])), `${stage}Ms in ${JSON.stringify(properties)}`);
    }
    assert.equal(properties.runId, result.runId);
    assert.equal(properties.mode, 'send');
    assert.equal(properties.code, undefined);
    assert.equal(properties.secretDaysLeft, String(result.secretDaysLeft));
    assert.ok(result.secretDaysLeft! >= 179);

    assert.equal(h.sandbox.exchange.messages.length, 1);
    const [message] = h.sandbox.exchange.messages;
    assert.deepEqual(message?.envelope.rcptTo, [recipient]);
    assert.match(message.raw.toString(), new RegExp(`^Subject: exosend health check ${result.runId}`, 'm'));
    assert.equal(message?.messageId, result.messageId);

    const line = checkLine(result.runId);
    assert.equal(line.ok, true);
    assert.equal(typeof line.sendMs, 'number');
  });

  it('when no recipient is set, then the check passes after AUTH and sends nothing', async () => {
    const { result, data } = await check();

    assert.equal(data.success, true, data.message);
    assert.deepEqual(
      result.stages.map((s) => s.stage),
      ['vault', 'token', 'claims', 'connect', 'auth'],
    );
    assert.equal(data.properties.mode, 'auth');
    assert.match(data.message, /nothing was sent/);
    assert.equal(h.sandbox.exchange.counters.authSuccesses, 1);
    assert.equal(h.sandbox.exchange.messages.length, 0);
  });

  const failures: { scenario: SandboxScenarioName; stage: string; code: string; when: string }[] = [
    {
      scenario: 'secret-missing',
      stage: 'vault',
      code: 'VAULT_SECRET_NOT_FOUND',
      when: 'the vault has no such secret',
    },
    { scenario: 'wrong-secret', stage: 'token', code: 'INVALID_CLIENT_SECRET', when: 'the client secret is wrong' },
    { scenario: 'missing-role', stage: 'claims', code: 'TOKEN_ROLE_MISSING', when: 'the token lacks SMTP.SendAsApp' },
    { scenario: 'smtp-auth-disabled', stage: 'auth', code: 'SMTP_AUTH_DISABLED', when: 'Exchange refuses SMTP AUTH' },
  ];
  for (const { scenario, stage, code, when } of failures) {
    it(`when ${when}, then the result is red and names stage ${stage} and ${code}`, async () => {
      sandboxScenarios[scenario](h.sandbox);
      const { result, availability, data } = await check({ EXOSEND_HEALTH_TO: recipient });

      assert.equal(availability.length, 1);
      assert.equal(data.success, false);
      assert.ok(data.message.startsWith(`${stage} failed: ${code}.`), data.message);
      assert.match(data.message, / Fix: \S/);
      assert.equal(data.properties.failedStage, stage);
      assert.equal(data.properties.code, code);
      assert.equal(result.failedStage, stage);
      assert.equal(result.diagnosis?.code, code);
      assert.equal(h.sandbox.exchange.messages.length, 0);
      const line = checkLine(result.runId);
      assert.equal(line.ok, false);
      assert.equal(line.code, code);
      assert.equal(line.failedStage, stage);
    });
  }

  it('when Send As on the checked From is refused, then the result is red at stage send with SEND_AS_DENIED', async () => {
    // EXOSEND_HEALTH_FROM: the check sends as the allowed sender whose Send As it guards
    sandboxScenarios['send-as-denied'](h.sandbox);
    const { result, data } = await check({
      EXOSEND_HEALTH_TO: recipient,
      EXOSEND_HEALTH_FROM: h.sandbox.app.sendAsAddress,
    });

    assert.equal(data.success, false);
    assert.ok(data.message.startsWith('send failed: SEND_AS_DENIED.'), data.message);
    assert.equal(data.properties.failedStage, 'send');
    assert.equal(result.stages.at(-1)?.stage, 'send');
    assert.equal(h.sandbox.exchange.messages.length, 0);
  });

  it('when the checked From is not an allowed sender, then the result is red with CONFIGURATION_INVALID naming the variable', async () => {
    const { result, data } = await check({ EXOSEND_HEALTH_FROM: 'someone@elsewhere.example' });

    assert.equal(data.success, false);
    assert.equal(result.code, 'CONFIGURATION_INVALID');
    assert.equal(data.properties.failedStage, 'settings');
    assert.match(data.message, /EXOSEND_HEALTH_FROM/);
    assert.ok(!data.message.includes('someone@elsewhere.example'), 'a setting is named, never its value');
  });

  it('when a valid token is cached, then the check makes no token request', async () => {
    h.restartApp({ APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString });
    await getRuntime().tokens.getToken();
    h.sandbox.identity.resetCounters();

    const { data } = await runTimer();

    assert.equal(data.success, true, data.message);
    assert.equal(h.sandbox.identity.counters.tokenRequests, 0);
  });

  // The timer runs every five minutes on every worker: a check that read the vault each time would
  // spend the vault's throttling budget, and one that bypassed the token cache, Entra's.
  it('when checks run back to back and sends run between them, then the vault is read once and one token is requested in all', async () => {
    h.restartApp({ APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString });
    h.sandbox.vault.resetCounters();
    for (let run = 0; run < 3; run++) {
      assert.equal((await runTimer()).data.success, true);
      assert.equal((await h.send(mailRequest())).status, 200);
    }
    assert.equal(h.sandbox.vault.reads, 1, 'vault reads');
    assert.equal(h.sandbox.identity.counters.tokenRequests, 1, 'token requests');
  });

  it('when the client secret expires within 30 days, then the result carries the days left and the log warns', async () => {
    const { vault, app } = h.sandbox;
    vault.setSecret(app.secretName, app.secret, { expiresOn: new Date(Date.now() + 10.5 * 24 * 60 * 60 * 1000) });
    try {
      const { result, data } = await check();
      assert.equal(data.success, true);
      assert.equal(data.properties.secretDaysLeft, '10');
      assert.equal(data.properties.credentialDaysLeft, '10');
      assert.equal(data.properties.credential, 'secret');
      const warning = h.logs.find((l) => l.includes('exosend.credentialExpiring'));
      assert.ok(warning, h.logs.join('\n'));
      assert.deepEqual(JSON.parse(warning), {
        event: 'exosend.credentialExpiring',
        runId: result.runId,
        credential: 'secret',
        credentialDaysLeft: 10,
      });
    } finally {
      vault.setSecret(app.secretName, app.secret, { expiresOn: app.secretExpiresOn });
    }
  });

  it('when no connection string is set, then the check still runs and nothing is sent to Application Insights', async () => {
    const { result, availability } = await check({ APPLICATIONINSIGHTS_CONNECTION_STRING: undefined });
    await flush();

    assert.equal(result.ok, true);
    assert.equal(availability.length, 0);
    assert.equal(h.sandbox.appInsights.envelopes.length, 0);
    checkLine(result.runId);
  });

  it('when checks run back to back, then each gives exactly one availability result with its own run id', async () => {
    h.restartApp({ APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString });
    await runTimer();
    await runTimer();
    const envelopes: TelemetryEnvelope[] = h.sandbox.appInsights.ofType('AvailabilityData');
    assert.equal(envelopes.length, 2);
    assert.notEqual(envelopes[0]?.data?.baseData.id, envelopes[1]?.data?.baseData.id);
  });
});
