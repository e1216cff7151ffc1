import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { main as callerCommand } from '../cli/caller.js';
import { getHealth } from '../src/functions/health-status.js';
import { messageStatus } from '../src/functions/message-status.js';
import { forgetHealthChecks } from '../src/health/last-check.js';
import { sandboxScenarios, scenarioSettings, type SandboxScenarioName } from '../local/sandbox/index.js';
import { callerToken } from './caller-tokens.js';
import { mailRequest, startHarness, type Harness, type Reply } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';

describe('what a plain caller sees, and what an operator sees', () => {
  let h: Harness;
  let q: QueueFixture;
  let entra: Record<string, string>;
  let plain: string;
  let operator: string;
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
    entra = { ...q.settings, EXOSEND_CALLER_AUTH: 'entra' };
    h.restartApp(entra);
    const { sample, other } = h.sandbox.callers;
    const { mailbox } = h.sandbox.app;
    assert.equal(
      await callerCommand(['add', sample.clientId, '--name', 'erp', '--senders', mailbox, '--recipients', '*']),
      0,
    );
    assert.equal(
      await callerCommand([
        'add',
        other.clientId,
        '--name',
        'ops',
        '--senders',
        mailbox,
        '--recipients',
        '*',
        '--operator',
      ]),
      0,
    );
    plain = await callerToken(h.sandbox, sample);
    operator = await callerToken(h.sandbox, other);
  });
  after(async () => {
    await q.close();
    await h.close();
  });

  /** What a caller must never read: the setup's ids, names and addresses, raw replies and admin commands. */
  const adminValues = (h: Harness) => {
    const { app } = h.sandbox;
    const vaultUrl = h.sandbox.settings['EXOSEND_KEY_VAULT_URL']!;
    return [
      app.tenantId,
      app.clientId,
      app.servicePrincipalId,
      app.federatedIdentity.clientId,
      app.federatedIdentity.objectId,
      app.unassignedIdentityClientId,
      vaultUrl,
      new URL(vaultUrl).host,
      app.secretName,
      app.certificateName,
      app.certificate.thumbprint,
      app.certificate.thumbprintSha256,
      'AADSTS',
      'Connect-ExchangeOnline',
      'New-ServicePrincipal',
      'Add-MailboxPermission',
      'az ad ',
      'az keyvault',
      'az role',
      'EXOSEND_',
    ];
  };

  // every misconfiguration the sandbox can stage, with the answers of /api/send, /api/messages and /api/health
  const failing = (Object.keys(sandboxScenarios) as SandboxScenarioName[]).filter(
    (name) => !['healthy', 'certificate', 'federated', 'graph'].includes(name),
  );
  const answersIn = async (name: SandboxScenarioName, token: string): Promise<[Reply, Reply, Reply]> => {
    h.reset({ ...entra, ...scenarioSettings(h.sandbox, name) });
    forgetHealthChecks();
    sandboxScenarios[name](h.sandbox);
    const headers = { authorization: `Bearer ${token}`, 'x-functions-key': '' };
    const id = `view-${randomUUID()}`;
    const sent = await h.send(
      mailRequest({ idempotencyKey: id, from: name === 'send-as-denied' ? h.sandbox.app.sendAsAddress : undefined }),
      { headers },
    );
    const record = await h.http(messageStatus, { method: 'GET', route: `messages/${id}`, params: { id }, headers });
    const health = await h.http(getHealth, { method: 'GET', route: 'health', headers });
    return [sent, record, health];
  };

  it("when every staged misconfiguration fails a plain Entra caller's send, then its answers, record and /api/health carry code, retryable and Retry-After but no id, vault, secret, certificate, raw reply or admin command", async () => {
    let refused = 0;
    for (const name of failing) {
      const [sent, record, health] = await answersIn(name, plain);
      if (sent.status === 200) continue; // a misconfiguration a send gets past (another sender's Send As)
      refused += 1;
      const text = JSON.stringify([sent.body, record.body, health.body]);
      for (const value of adminValues(h))
        assert.ok(
          !text.toLowerCase().includes(value.toLowerCase()),
          `${name}: a plain caller read "${value}" in ${text}`,
        );
      assert.equal(typeof sent.body.error.code, 'string', name);
      assert.equal(typeof sent.body.error.retryable, 'boolean', name);
      assert.equal(sent.body.error.diagnosis?.fix, undefined, name);
      if (sent.status === 503)
        assert.equal(String(sent.body.error.retryAfterSeconds), sent.headers['retry-after'], name);
    }
    assert.ok(refused >= 15, `${refused} scenarios refused a send`);
    // the admin's detail is not lost: it is in the log
    assert.ok(
      h.logs.some(
        (line) => line.includes('"event":"exosend.detail-withheld"') && line.includes(h.sandbox.app.secretName),
      ),
    );
  });

  it('when the vault has no secret, then an operator caller reads the fix that names the vault and the secret, and a plain one does not', async () => {
    const [operatorSent] = await answersIn('secret-missing', operator);
    assert.equal(operatorSent.status, 502, JSON.stringify(operatorSent.body));
    assert.match(operatorSent.body.error.diagnosis.fix, new RegExp(h.sandbox.app.secretName));
    const [plainSent] = await answersIn('secret-missing', plain);
    assert.equal(plainSent.body.error.code, operatorSent.body.error.code);
    assert.equal(plainSent.body.error.retryable, false);
    assert.deepEqual(plainSent.body.error.diagnosis, {
      code: 'VAULT_SECRET_NOT_FOUND',
      stage: 'vault',
      retryable: false,
    });
  });

  it('when a function key calls (the default policy), then its answers keep the whole diagnosis, as before caller identities', async () => {
    h.reset({ ...q.settings, ...scenarioSettings(h.sandbox, 'secret-missing') });
    sandboxScenarios['secret-missing'](h.sandbox);
    const sent = await h.send(mailRequest());
    assert.equal(sent.status, 502);
    assert.match(sent.body.error.diagnosis.fix, new RegExp(h.sandbox.app.secretName));
    assert.equal(sent.body.error.retryable, false);
  });
});
