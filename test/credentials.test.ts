// The three ways the app proves itself to Entra (EXOSEND_CREDENTIAL): a client secret or a
// certificate read from Key Vault, or the Function App's managed identity as a federated
// credential. Each runs end to end against the stand-ins, through the real SDKs, and each costs
// the same: one credential read per process (none for federated), one token per token lifetime.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Timer } from '@azure/functions';
import { decodeJwt } from 'jose';
import { enqueueMail } from '../src/functions/enqueue.js';
import { scheduledHealthCheck } from '../src/functions/health-check.js';
import { getHealth } from '../src/functions/health-status.js';
import type { HealthCheckResult } from '../src/health/health-result.js';
import { forgetHealthChecks, lastHealthCheck } from '../src/health/last-check.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { credentialSettings, sandboxScenarios, scenarioSettings, storeCertificate } from '../local/sandbox/index.js';
import { certificateSecretValue, issueClientCertificate } from '../local/sandbox/pki.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { drain, startQueueFixture, type QueueFixture } from './queue-fixture.js';

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: true },
  scheduleStatus: {
    last: new Date(0).toISOString(),
    next: new Date().toISOString(),
    lastUpdated: new Date(0).toISOString(),
  },
};
const exchange = 'https://outlook.office365.com';
const dayInMs = 24 * 60 * 60 * 1000;
type Kind = 'secret' | 'certificate' | 'federated';

describe('EXOSEND_CREDENTIAL: secret, certificate and federated, end to end', () => {
  let h: Harness;
  let q: QueueFixture;
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
  });
  after(async () => {
    await q.close();
    await h.close();
  });
  beforeEach(async () => {
    await q.reset();
    forgetHealthChecks();
  });

  const start = (kind: Kind, extra: Record<string, string | undefined> = {}) =>
    q.resetApp({ ...credentialSettings(h.sandbox.app, kind), ...extra });
  /**
   * What reached the stand-ins. The managed identity's tokens (for the vault, or the assertion)
   * are kept by MSAL process-wide, beyond a cold start of the app: at most one per process.
   */
  const counts = () => {
    const { identity, vault } = h.sandbox;
    assert.ok(
      identity.counters.managedIdentityRequests <= 1,
      `${identity.counters.managedIdentityRequests} managed identity requests`,
    );
    return {
      vaultReads: vault.reads,
      exchangeTokens: identity.counters.tokensByAudience[exchange] ?? 0,
      tokenRequests: identity.counters.tokenRequests,
    };
  };

  const expected: Record<Kind, { vaultReads: number; appidacr: string }> = {
    secret: { vaultReads: 1, appidacr: '1' },
    certificate: { vaultReads: 1, appidacr: '2' },
    // no vault: the identity's token is the client assertion
    federated: { vaultReads: 0, appidacr: '2' },
  };

  for (const kind of ['secret', 'certificate', 'federated'] as const) {
    it(`when EXOSEND_CREDENTIAL=${kind}, then /api/send, the queue and the health check all send with one credential read and one token`, async () => {
      start(kind);
      h.sandbox.exchange.messages.length = 0;
      const sends = await Promise.all(
        Array.from({ length: 6 }, (_, i) => h.send(mailRequest({ subject: `${kind} ${i}` }))),
      );
      assert.deepEqual(
        sends.map((r) => r.status),
        Array(6).fill(200),
        JSON.stringify(sends.find((r) => r.status !== 200)?.body),
      );

      const queued = await Promise.all(
        Array.from({ length: 3 }, (_, i) =>
          h.http(enqueueMail, { route: 'enqueue', body: mailRequest({ subject: `${kind} queued ${i}` }) }),
        ),
      );
      q.startListener();
      const records = await q.waitUntilFinished(queued.map((r) => r.body.id as string));
      assert.deepEqual(
        records.map((r) => r.status),
        ['sent', 'sent', 'sent'],
      );

      await scheduledHealthCheck(timer, h.context('health'));
      const check = lastHealthCheck() as HealthCheckResult;
      assert.equal(check.ok, true, JSON.stringify(check.diagnosis));
      assert.equal(check.credential, kind);
      const health = await h.http(getHealth, { method: 'GET', route: 'health' });
      assert.equal(health.status, 200, JSON.stringify(health.body));
      assert.equal(health.body.preflight.credential, kind);

      const { vaultReads, appidacr } = expected[kind];
      assert.deepEqual(counts(), { vaultReads, exchangeTokens: 1, tokenRequests: 1 });
      const token = decodeJwt(getRuntime().tokens.peek()!.token);
      assert.equal(token['appidacr'], appidacr, 'Entra saw the credential this mode is about');
      assert.equal(h.sandbox.exchange.messages.length, 6 + 3);
    });
  }

  it('when the token nears its end, then each mode asks Entra again without reading the vault again', async () => {
    for (const kind of ['certificate', 'federated'] as const) {
      start(kind);
      assert.equal((await h.send(mailRequest())).status, 200);
      getRuntime().tokens.invalidate(getRuntime().tokens.peek()!.token); // as if the hour had passed
      assert.equal((await h.send(mailRequest())).status, 200);
      assert.deepEqual(counts(), { vaultReads: expected[kind].vaultReads, exchangeTokens: 2, tokenRequests: 2 }, kind);
    }
  });

  it('when a queued message meets a certificate Entra does not know or a federation that does not match, then it is dead-lettered at once with that diagnosis', async () => {
    const cases = [
      ['certificate-not-registered', 'CERTIFICATE_NOT_REGISTERED'],
      ['federation-audience-mismatch', 'FEDERATED_CREDENTIAL_MISMATCH'],
    ] as const;
    for (const [name, code] of cases) {
      await q.stopListeners();
      sandboxScenarios[name](h.sandbox);
      h.restartApp({ ...q.settings, ...scenarioSettings(h.sandbox, name) });
      const reply = await h.http(enqueueMail, {
        route: 'enqueue',
        body: mailRequest({ idempotencyKey: `dead-${name}` }),
      });
      q.startListener();
      const [record] = await q.waitUntilFinished([reply.body.id as string]);
      assert.equal(record?.status, 'failed', name);
      assert.equal(record?.attempts, 1, 'a setup mistake is not retried');
      const [letter] = await drain(q.storage, 'poison');
      assert.equal(letter.diagnosis.code, code);
      assert.match(
        letter.diagnosis.fix,
        code === 'CERTIFICATE_NOT_REGISTERED'
          ? /az ad app credential reset --id /
          : /az ad app federated-credential create --id /,
      );
    }
    sandboxScenarios.healthy(h.sandbox);
  });

  it("when the federated credential expects a national cloud's audience, then EXOSEND_FEDERATED_AUDIENCE set to it sends, and the default is refused as a mismatch naming the audience", async () => {
    // Regression (surviving mutant): EXOSEND_FEDERATED_AUDIENCE could be ignored for the hard-coded
    // default and every test still passed; US Government and China clouds need their own audience.
    const usGov = 'api://AzureADTokenExchangeUSGov';
    const federatedToAudience = (audience: string) =>
      h.sandbox.identity.updateApp(h.sandbox.app.clientId, {
        federatedCredentials: [
          {
            name: 'exosend-function-app',
            issuer: h.sandbox.app.federation.issuer,
            subject: h.sandbox.app.federation.subject,
            audiences: [audience],
          },
        ],
      });

    start('federated', { EXOSEND_FEDERATED_AUDIENCE: usGov });
    federatedToAudience(usGov);
    const sent = await h.send(mailRequest());
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.deepEqual(
      h.sandbox.identity.counters.managedIdentityTokensByResource,
      { [usGov]: 1 },
      'the assertion was asked for that audience',
    );

    start('federated');
    federatedToAudience(usGov);
    const refused = await h.send(mailRequest());
    assert.equal(refused.status, 502, JSON.stringify(refused.body));
    const { diagnosis } = refused.body.error;
    assert.equal(diagnosis.code, 'FEDERATED_CREDENTIAL_MISMATCH');
    assert.match(diagnosis.smtp, /AADSTS700212: .*presented assertion audience 'api:\/\/AzureADTokenExchange'/);
    assert.match(diagnosis.cause, /audience api:\/\/AzureADTokenExchange\./);
    assert.match(diagnosis.fix, /the audience must equal EXOSEND_FEDERATED_AUDIENCE/);
    assert.equal(h.sandbox.exchange.counters.connections, 0);
    sandboxScenarios.healthy(h.sandbox);
  });

  it('when the vault holds the certificate as PEM, then it signs as well as the PKCS#12 form', async () => {
    start('certificate');
    storeCertificate(h.sandbox, h.sandbox.app.certificate, 'pem');
    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  });

  it('when a new certificate replaces one Entra refuses, then the next send reads the vault again and succeeds without a restart', async () => {
    start('certificate');
    assert.equal((await h.send(mailRequest())).status, 200);
    const next = issueClientCertificate({ subject: 'exosend next' });
    // rotation: the app registration trusts only the new one; the vault gets it as a new version
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { certificates: [next.certPem] });
    storeCertificate(h.sandbox, next);
    getRuntime().tokens.invalidate(getRuntime().tokens.peek()!.token);

    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(h.sandbox.vault.reads, 2, 'read once at start, once after AADSTS700027');
    assert.equal(h.sandbox.identity.counters.tokenRequests, 3, 'the first token, the refused assertion, the new one');
  });

  it('when the certificate expires within 30 days, then the health check and /api/health report its days left and the log warns', async () => {
    start('certificate', { APPLICATIONINSIGHTS_CONNECTION_STRING: undefined });
    const soon = issueClientCertificate({
      notBefore: new Date(Date.now() - dayInMs),
      notAfter: new Date(Date.now() + 12.5 * dayInMs),
    });
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { certificates: [soon.certPem] });
    storeCertificate(h.sandbox, soon);
    h.logs.length = 0;
    await scheduledHealthCheck(timer, h.context('health'));
    const check = lastHealthCheck() as HealthCheckResult;
    assert.equal(check.ok, true, JSON.stringify(check.diagnosis));
    assert.equal(check.credentialDaysLeft, 12);
    assert.equal(check.secretDaysLeft, undefined, 'a certificate is no secret');
    const warning = h.logs.find((l) => l.includes('exosend.credentialExpiring'));
    assert.deepEqual(JSON.parse(warning ?? '{}'), {
      event: 'exosend.credentialExpiring',
      runId: check.runId,
      credential: 'certificate',
      credentialDaysLeft: 12,
    });
    const health = await h.http(getHealth, { method: 'GET', route: 'health' });
    assert.equal(health.body.preflight.credentialDaysLeft, 12);
  });

  it('when the credential is federated, then no days left are reported and nothing warns', async () => {
    start('federated');
    h.logs.length = 0;
    await scheduledHealthCheck(timer, h.context('health'));
    const check = lastHealthCheck() as HealthCheckResult;
    assert.equal(check.ok, true, JSON.stringify(check.diagnosis));
    assert.equal(check.credentialDaysLeft, undefined);
    assert.deepEqual(
      check.stages.map((s) => s.stage),
      ['token', 'claims', 'connect', 'auth'],
    );
    assert.ok(!h.logs.some((l) => l.includes('credentialExpiring')));
  });

  it('when EXOSEND_CREDENTIAL=federated and no vault URL is set, then the settings are valid; the other kinds name the missing vault', async () => {
    start('federated');
    assert.equal((await h.send(mailRequest())).status, 200);
    start('certificate', { EXOSEND_KEY_VAULT_URL: undefined });
    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 500, JSON.stringify(reply.body));
    assert.equal(reply.body.error.code, 'CONFIGURATION_INVALID');
    assert.match(reply.body.error.message, /EXOSEND_KEY_VAULT_URL is required/);
    assert.equal(h.sandbox.exchange.counters.accepted, 0);
  });

  it('when the secret is neither PEM nor PKCS#12, then the diagnosis says so without its value', async () => {
    start('certificate');
    h.sandbox.vault.setSecret(
      h.sandbox.app.certificateName,
      certificateSecretValue(h.sandbox.app.certificate, 'pkcs12').slice(0, 40),
      { contentType: 'application/x-pkcs12' },
    );
    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 502);
    assert.equal(reply.body.error.code, 'CERTIFICATE_NO_PRIVATE_KEY');
    assert.match(reply.body.error.diagnosis.smtp, /not a PKCS#12 file/);
    sandboxScenarios.healthy(h.sandbox);
  });
});
