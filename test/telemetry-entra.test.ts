import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Timer } from '@azure/functions';
import { scheduledHealthCheck } from '../src/functions/health-check.js';
import { sandboxScenarios } from '../local/sandbox/index.js';
import { flush, shutdownTelemetry } from '../src/telemetry/telemetry.js';
import { mailRequest, startHarness, type Harness } from './harness.js';

// A file of its own: managed-identity tokens are cached per process, and a harness started after
// another in the same process would be handed the first sandbox's tokens.
const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: true },
  scheduleStatus: {
    last: new Date(0).toISOString(),
    next: new Date().toISOString(),
    lastUpdated: new Date(0).toISOString(),
  },
};

describe('telemetry with Entra authentication (ingestion with local authentication off)', () => {
  let h: Harness;
  let telemetryIdentity: { clientId: string };
  before(async () => {
    h = await startHarness(import.meta.filename);
    telemetryIdentity = h.sandbox.identity.addUserAssignedIdentity('exosend-telemetry');
    // only this identity holds Monitoring Metrics Publisher, as the template assigns it
    h.sandbox.appInsights.requireEntraToken(true, [telemetryIdentity.clientId]);
  });
  after(async () => {
    await shutdownTelemetry();
    await h.close();
  });
  beforeEach(() => {
    sandboxScenarios.healthy(h.sandbox);
    h.sandbox.appInsights.clear();
    h.sandbox.identity.resetCounters();
  });

  const monitorTokens = () =>
    h.sandbox.identity.counters.managedIdentityTokensByResource['https://monitor.azure.com'] ?? 0;

  it('when no authentication string is set, then ingestion refuses the exosend-smtp result for want of a token', async () => {
    h.restartApp({ APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString });
    await scheduledHealthCheck(timer, h.context('health'));
    await flush();
    assert.equal(h.sandbox.appInsights.ofType('AvailabilityData').length, 0);
    assert.match(h.sandbox.appInsights.refused[0] ?? '', /Bearer token is required/);
  });

  it('when APPLICATIONINSIGHTS_AUTHENTICATION_STRING names the identity, then the exosend-smtp result and send events arrive with its monitor token', async () => {
    h.restartApp({
      APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=AAD;ClientId=${telemetryIdentity.clientId}`,
    });
    await scheduledHealthCheck(timer, h.context('health'));
    const reply = await h.send(mailRequest({}));
    await flush();

    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(h.sandbox.appInsights.refused, []);
    const [availability] = h.sandbox.appInsights.ofType('AvailabilityData');
    assert.equal(availability?.data?.baseData.name, 'exosend-smtp');
    assert.equal(availability?.data?.baseData.success, true);
    assert.deepEqual(
      h.sandbox.appInsights.ofType('EventData').map((e) => e.data?.baseData.name),
      ['exosend.sent'],
    );
    assert.ok(monitorTokens() >= 1, 'a token for https://monitor.azure.com was issued');
    const said = h.sandbox.appInsights.bodies.join('\n');
    for (const secret of h.sandbox.knownSecrets()) assert.ok(!said.includes(secret), 'a token reached telemetry');
  });

  it('when the authentication string names an identity the tenant does not know, then nothing is accepted and the app keeps sending mail', async () => {
    h.restartApp({
      APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=0b5a7d1e-0000-4000-8000-00000000dead',
    });
    const reply = await h.send(mailRequest({}));
    await flush();
    assert.equal(reply.status, 200);
    assert.equal(h.sandbox.appInsights.envelopes.length, 0);
  });
});
