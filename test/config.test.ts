import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindingSetting, loadConfig } from '../src/config/load-config.js';
import { ConfigError } from '../src/config/config-error.js';

const required = {
  EXOSEND_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  EXOSEND_CLIENT_ID: '0b6a1f9e-3c42-4d8e-9a3f-5b2e8c1d7f60',
  EXOSEND_KEY_VAULT_URL: 'https://contoso-mail.vault.azure.net/',
  EXOSEND_MAILBOX: 'Reports@Contoso.com',
};

const rejection = (env: Record<string, string>): ConfigError => {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error;
  }
  return assert.fail('the settings were accepted');
};
const problems = (env: Record<string, string>) =>
  Object.fromEntries(rejection(env).problems.map((p) => [p.variable, p.message]));

describe('settings', () => {
  it('when only the required settings are given, then the documented defaults apply', () => {
    const config = loadConfig(required);
    assert.equal(config.mailbox, 'reports@contoso.com');
    assert.deepEqual(config.allowedSenders, ['reports@contoso.com'], 'the mailbox only');
    assert.equal(config.keyVaultUrl, 'https://contoso-mail.vault.azure.net');
    assert.deepEqual(config.smtp, { host: 'smtp.office365.com', port: 587 });
    assert.equal(config.scope, 'https://outlook.office365.com/.default');
    assert.equal(config.clientSecretName, 'exosend-client-secret');
    assert.equal(config.rolesMode, 'entra');
    assert.equal(config.ratePerMinute, 30);
    assert.equal(config.maxConnections, 3);
    assert.equal(config.queue, 'outbound-mail');
    assert.equal(config.authorityHost, 'https://login.microsoftonline.com');
  });

  it('when the credential is chosen, then its defaults apply, and only federated does without a vault', () => {
    const secret = loadConfig(required);
    assert.equal(secret.credential, 'secret');
    const certificate = loadConfig({ ...required, EXOSEND_CREDENTIAL: 'certificate' });
    assert.equal(certificate.clientCertificateName, 'exosend-client-certificate');
    const { EXOSEND_KEY_VAULT_URL: _vault, ...withoutVault } = required;
    const federated = loadConfig({ ...withoutVault, EXOSEND_CREDENTIAL: 'federated' });
    assert.equal(federated.keyVaultUrl, undefined);
    assert.equal(federated.federatedAudience, 'api://AzureADTokenExchange');
    assert.deepEqual(problems({ ...withoutVault, EXOSEND_CREDENTIAL: 'certificate' }), {
      EXOSEND_KEY_VAULT_URL: 'is required',
    });
    assert.deepEqual(problems(withoutVault), { EXOSEND_KEY_VAULT_URL: 'is required' });
    assert.deepEqual(
      problems({ ...required, EXOSEND_CREDENTIAL: 'password', EXOSEND_CLIENT_CERTIFICATE_NAME: 'a b' }),
      {
        EXOSEND_CREDENTIAL: 'must be "secret", "certificate" or "federated"',
        EXOSEND_CLIENT_CERTIFICATE_NAME: 'must be a Key Vault certificate name (letters, digits, dashes)',
      },
    );
  });

  it("when the transport is chosen, then smtp is the default, graph and auto are taken, Graph's address defaults to Microsoft Graph, and anything else is named", async () => {
    const { graphScopeFor } = await import('../src/auth/graph-claims.js');
    const defaults = loadConfig(required);
    assert.equal(defaults.transport, 'smtp');
    assert.equal(defaults.graphEndpoint, 'https://graph.microsoft.com');
    assert.equal(
      loadConfig({ ...required, EXOSEND_TRANSPORT: 'graph', EXOSEND_GRAPH_ENDPOINT: 'https://graph.microsoft.us/' })
        .graphEndpoint,
      'https://graph.microsoft.us',
    );
    assert.equal(loadConfig({ ...required, EXOSEND_TRANSPORT: 'auto' }).transport, 'auto');
    assert.deepEqual(
      problems({ ...required, EXOSEND_TRANSPORT: 'ews', EXOSEND_GRAPH_ENDPOINT: 'http://graph.local' }),
      {
        EXOSEND_TRANSPORT: 'must be "smtp", "graph" or "auto"',
        EXOSEND_GRAPH_ENDPOINT: 'must be an https:// URL',
      },
    );
    // a national cloud's Graph is its own resource; a stand-in is Microsoft Graph for the identity platform
    assert.equal(graphScopeFor('https://graph.microsoft.us'), 'https://graph.microsoft.us/.default');
    assert.equal(graphScopeFor('https://127.0.0.1:8443'), 'https://graph.microsoft.com/.default');
  });

  it('when settings are missing, then each missing variable is named as required', () => {
    assert.deepEqual(problems({}), {
      EXOSEND_TENANT_ID: 'is required',
      EXOSEND_CLIENT_ID: 'is required',
      EXOSEND_KEY_VAULT_URL: 'is required',
      EXOSEND_MAILBOX: 'is required',
    });
  });

  it('when settings are malformed, then each is named with what it must be, and no value is repeated', () => {
    const env = {
      ...required,
      EXOSEND_CLIENT_ID: 'my-app',
      EXOSEND_KEY_VAULT_URL: 'http://contoso-mail.vault.azure.net',
      EXOSEND_SMTP_PORT: 'abc',
      EXOSEND_RATE_PER_MINUTE: 'ten',
      EXOSEND_ROLES_MODE: 'both',
      EXOSEND_ALLOWED_SENDERS: 'a@contoso.com,not-an-address',
    };
    const found = problems(env);
    assert.deepEqual(Object.keys(found).sort(), [
      'EXOSEND_ALLOWED_SENDERS',
      'EXOSEND_CLIENT_ID',
      'EXOSEND_KEY_VAULT_URL',
      'EXOSEND_RATE_PER_MINUTE',
      'EXOSEND_ROLES_MODE',
      'EXOSEND_SMTP_PORT',
    ]);
    assert.equal(found['EXOSEND_SMTP_PORT'], 'must be a TCP port');
    assert.equal(found['EXOSEND_RATE_PER_MINUTE'], 'must be a number');
    const { message } = rejection(env);
    for (const value of ['my-app', 'http://contoso', 'abc', 'ten', 'not-an-address'])
      assert.ok(!message.includes(value), `"${value}" is not echoed`);
  });

  it('when a setting is blank, then it counts as unset', () => {
    assert.equal(loadConfig({ ...required, EXOSEND_SMTP_PORT: '  ', EXOSEND_ALLOWED_SENDERS: '' }).smtp.port, 587);
  });

  it('when the host indexes the queue and the timer, then an unset setting gets its default and a bad one is refused', () => {
    assert.equal(bindingSetting('EXOSEND_QUEUE', {}), 'outbound-mail');
    assert.equal(bindingSetting('EXOSEND_HEALTH_SCHEDULE', {}), '0 */5 * * * *');
    assert.equal(bindingSetting('EXOSEND_QUEUE', { EXOSEND_QUEUE: 'mail-in' }), 'mail-in');
    assert.throws(
      () => bindingSetting('EXOSEND_QUEUE', { EXOSEND_QUEUE: 'Mail_In' }),
      /EXOSEND_QUEUE must be a storage queue name/,
    );
  });
});
