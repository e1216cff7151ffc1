// Every diagnosis code, reproduced end to end: the stand-ins (or the settings) are set up wrong the
// way an admin would get them wrong, a valid request goes through POST /api/send, and the caller
// gets the status, the code, the cause and the fix -- worded for this app and this mailbox.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { diagnosisCodes, type DiagnosisCode, type Stage } from '../src/diagnosis/diagnosis.js';
import {
  sandboxScenarios,
  scenarioSettings,
  type SandboxApp,
  type SandboxScenarioName,
} from '../local/sandbox/index.js';
import { mailRequest, startHarness, type Harness, type Reply } from './harness.js';
import {
  startRelayWithoutAuth,
  startServerWithOldTlsOnly,
  startServerWithoutStartTls,
  startServerWithUntrustedCertificate,
  type Impostor,
} from './smtp-impostors.js';

interface Arranged {
  /** App settings for this case, on top of the sandbox's; the app restarts cold with them. */
  settings?: Record<string, string | undefined>;
  /** Fields of the mail request that differ from a plain valid one. */
  request?: Record<string, unknown>;
  /** A server the settings point the app at instead of Exchange. */
  impostor?: Impostor;
}

interface Case {
  code: DiagnosisCode;
  when: string;
  then: string;
  /** One of the three errors KB486942's troubleshooting section lists. */
  kb?: true;
  arrange(h: Harness): void | Arranged | Promise<Arranged>;
  status: 502 | 503;
  stage: Stage;
  /** The raw reply: SMTP line, AADSTS text, vault error or the token's claims. */
  smtp: (app: SandboxApp) => RegExp;
  /** What the fix must say, literally: the concrete step, with this app's IDs in it. */
  fix: (app: SandboxApp) => (string | RegExp)[];
  cause?: (app: SandboxApp) => string[];
  /** What else a user would see: what reached Exchange or Entra, what came back. */
  verify?: (h: Harness, reply: Reply, arranged: Arranged) => void;
}

/** A loopback port nothing listens on (it was free a moment ago). */
const closedPort = async () => {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
};
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const otherId = randomUUID();
const smtpAt = (impostor: Impostor) => ({ EXOSEND_SMTP_HOST: '127.0.0.1', EXOSEND_SMTP_PORT: String(impostor.port) });
const kbSetupSteps = [
  /^1\. Audience: /m,
  /^2\. Permission: /m,
  /^3\. Service principal: /m,
  /^4\. Mailbox permission: /m,
  /^5\. SMTP AUTH for the mailbox: /m,
];

/** A certificate or federation scenario, with the credential setting it needs. */
const withScenario =
  (name: SandboxScenarioName) =>
  (h: Harness): Arranged => {
    sandboxScenarios[name](h.sandbox);
    return { settings: scenarioSettings(h.sandbox, name) };
  };
const federationFix = (app: SandboxApp) => [
  `az ad app federated-credential create --id ${app.clientId} --parameters '{"name":"exosend-function-app","issuer":"${app.federation.issuer}","subject":"${app.federatedIdentity.objectId}","audiences":["api://AzureADTokenExchange"]}'`,
  'Federated credentials > Add credential > Managed Identity',
];
const noVaultRead = (h: Harness) => assert.equal(h.sandbox.vault.reads, 0, 'a federated credential reads no vault');

const cases: Case[] = [
  // the certificate in Key Vault (EXOSEND_CREDENTIAL=certificate)
  {
    code: 'VAULT_CERTIFICATE_NOT_FOUND',
    when: 'the vault has no certificate of the configured name',
    then: 'the fix names the vault, the certificate and how to import or create it',
    arrange: withScenario('certificate-missing'),
    status: 502,
    stage: 'vault',
    smtp: (app) => new RegExp(`^404 SecretNotFound: A secret with \\(name/id\\) ${app.certificateName} was not found`),
    fix: (app) => [
      `EXOSEND_CLIENT_CERTIFICATE_NAME (${app.certificateName})`,
      `az keyvault certificate import --vault-name 127 --name ${app.certificateName}`,
      `az ad app credential reset --id ${app.clientId} --keyvault 127 --cert ${app.certificateName} --append`,
    ],
    verify: (h) => assert.equal(h.sandbox.identity.counters.tokenRequests, 0),
  },
  {
    code: 'CERTIFICATE_NO_PRIVATE_KEY',
    when: "the vault's certificate comes without its private key",
    then: 'nothing is asked of Entra and the fix says to import it with its key',
    arrange: withScenario('certificate-without-key'),
    status: 502,
    stage: 'vault',
    smtp: () => /no private key/,
    fix: (app) => [
      `az keyvault certificate import --vault-name 127 --name ${app.certificateName} --file exosend.pfx`,
      'exportable',
    ],
    verify: (h) => assert.equal(h.sandbox.identity.counters.tokenRequests, 0),
  },
  {
    code: 'CERTIFICATE_EXPIRED',
    when: "the vault's certificate is past its notAfter",
    then: 'it is refused before Entra is asked, and the fix creates the next version and uploads it',
    arrange: withScenario('certificate-expired'),
    status: 502,
    stage: 'certificate',
    smtp: () => /^thumbprint [0-9A-F]{40}: valid from \S+ to \S+; now /,
    fix: (app) => [
      `az keyvault certificate create --vault-name 127 --name ${app.certificateName}`,
      `az ad app credential reset --id ${app.clientId} --keyvault 127 --cert ${app.certificateName} --append`,
    ],
    cause: () => ['expired on 20'],
    verify: (h) =>
      assert.equal(h.sandbox.identity.counters.tokenRequests, 0, 'checked locally, before any call to Entra'),
  },
  {
    code: 'CERTIFICATE_NOT_YET_VALID',
    when: "the vault's certificate starts tomorrow",
    then: 'it is refused before Entra is asked, and the fix mentions the clock',
    arrange: withScenario('certificate-not-yet-valid'),
    status: 502,
    stage: 'certificate',
    smtp: () => /^thumbprint [0-9A-F]{40}: valid from /,
    fix: (app) => ["host's clock", `az keyvault certificate create --vault-name 127 --name ${app.certificateName}`],
    cause: () => ['not valid before 20'],
    verify: (h) =>
      assert.equal(h.sandbox.identity.counters.tokenRequests, 0, 'checked locally, before any call to Entra'),
  },
  {
    code: 'CERTIFICATE_NOT_REGISTERED',
    when: "the certificate's public part was never uploaded to the app registration",
    then: 'the vault is read once more and the fix uploads it with this app and vault filled in',
    arrange: withScenario('certificate-not-registered'),
    status: 502,
    stage: 'token',
    smtp: () =>
      /^invalid_client: AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application\. \[Reason - The key was not found\., Thumbprint of key used by client: '[0-9A-F]{64}'/,
    fix: (app) => [
      `az ad app credential reset --id ${app.clientId} --keyvault 127 --cert ${app.certificateName} --append`,
      `app ${app.clientId} > Certificates & secrets > Certificates > Upload certificate`,
    ],
    verify: (h) =>
      assert.equal(h.sandbox.vault.reads, 2, 'a refused certificate makes the app read the vault again, once'),
  },
  // the managed identity as a federated credential (EXOSEND_CREDENTIAL=federated)
  {
    code: 'FEDERATED_CREDENTIAL_MISMATCH',
    when: "the app's federated credential names another issuer",
    then: 'the fix is the one az command with this issuer, subject and audience',
    arrange: withScenario('federation-issuer-mismatch'),
    status: 502,
    stage: 'token',
    smtp: (app) =>
      new RegExp(
        `^invalid_request: AADSTS700211: No matching federated identity record found for presented assertion issuer '${escape(app.federation.issuer)}'`,
      ),
    fix: federationFix,
    cause: () => ['AADSTS700211'],
    verify: noVaultRead,
  },
  {
    code: 'FEDERATED_CREDENTIAL_MISMATCH',
    when: "the app's federated credential names another subject than the identity's principal ID",
    then: 'the fix names the principal ID to register',
    arrange: withScenario('federation-subject-mismatch'),
    status: 502,
    stage: 'token',
    smtp: (app) =>
      new RegExp(
        `^invalid_request: AADSTS700213: No matching federated identity record found for presented assertion subject '${app.federatedIdentity.objectId}'`,
      ),
    fix: federationFix,
    verify: noVaultRead,
  },
  {
    code: 'FEDERATED_CREDENTIAL_MISMATCH',
    when: "the app's federated credential expects another audience",
    then: 'the fix names EXOSEND_FEDERATED_AUDIENCE',
    arrange: withScenario('federation-audience-mismatch'),
    status: 502,
    stage: 'token',
    smtp: () =>
      /^invalid_request: AADSTS700212: No matching federated identity record found for presented assertion audience 'api:\/\/AzureADTokenExchange'/,
    fix: (app) => [...federationFix(app), 'EXOSEND_FEDERATED_AUDIENCE'],
    verify: noVaultRead,
  },
  {
    code: 'MANAGED_IDENTITY_UNAVAILABLE',
    when: 'AZURE_CLIENT_ID names an identity not assigned to the Function App',
    then: 'the fix assigns that identity, found by its client ID',
    arrange: withScenario('identity-not-assigned'),
    status: 502,
    stage: 'token',
    smtp: () => /No Managed Identity found for specified ClientId/,
    fix: (app) => [
      `[?clientId=='${app.unassignedIdentityClientId}'].id`,
      'az functionapp identity assign',
      'Settings > Identity > User assigned > Add',
      '/api/health',
    ],
    verify: (h) => {
      noVaultRead(h);
      assert.equal(h.sandbox.identity.counters.tokenRequests, 0, 'no assertion, no token request');
    },
  },
  // Key Vault
  {
    code: 'VAULT_SECRET_NOT_FOUND',
    when: 'the vault has no secret of the configured name',
    then: 'the fix names the vault URL and the secret name to check',
    arrange: (h) => sandboxScenarios['secret-missing'](h.sandbox),
    status: 502,
    stage: 'vault',
    smtp: (app) =>
      new RegExp(`^404 SecretNotFound: A secret with \\(name/id\\) ${app.secretName} was not found in this key vault`),
    fix: (app) => [
      'EXOSEND_KEY_VAULT_URL',
      `EXOSEND_CLIENT_SECRET_NAME (${app.secretName})`,
      'az keyvault secret recover',
    ],
  },
  {
    code: 'VAULT_ACCESS_DENIED',
    when: "the Function App's managed identity may not read the vault's secrets",
    then: 'the fix grants it "Key Vault Secrets User"',
    arrange: (h) => sandboxScenarios['vault-denied'](h.sandbox),
    status: 502,
    stage: 'vault',
    smtp: () =>
      /^403 Forbidden: The user, group or application 'appid=[\w-]+;oid=[\w-]+;iss=[^']+' does not have secrets get permission/,
    fix: () => [
      'System assigned: On',
      'AZURE_CLIENT_ID',
      'Add role assignment > "Key Vault Secrets User" > Managed identity',
    ],
  },
  {
    code: 'VAULT_UNREACHABLE',
    when: 'the vault answers every request with 503',
    then: 'the caller is told to come back later',
    // a short x-ms-retry-after-ms keeps the SDK's own retries, four per try, from taking seconds
    arrange: (h) => h.sandbox.vault.failRequests(1000, 503, 20),
    status: 503,
    stage: 'vault',
    smtp: () => /^503 ServiceUnavailable: The service is temporarily unavailable/,
    fix: () => ['exosend retries on its own', 'EXOSEND_KEY_VAULT_URL'],
    verify: (h, reply) => {
      assert.equal(reply.headers['retry-after'], '1', 'the vault asked for under a second: rounded up');
      assert.equal(h.sandbox.identity.counters.tokenRequests, 0);
    },
  },
  // Entra ID token endpoint
  {
    code: 'INVALID_CLIENT_SECRET',
    when: 'the vault holds a secret Entra no longer accepts',
    then: 'the vault is read once more and the fix says to create a new secret for this app',
    arrange: (h) => sandboxScenarios['wrong-secret'](h.sandbox),
    status: 502,
    stage: 'token',
    smtp: () => /^invalid_client: AADSTS7000215: Invalid client secret provided\./,
    fix: (app) => [
      `App registrations > app ${app.clientId} > Certificates & secrets > New client secret`,
      `as the secret ${app.secretName}`,
    ],
    cause: (app) => [app.clientId],
    verify: (h) => assert.equal(h.sandbox.vault.reads, 2, 'a refused secret makes the app read the vault again, once'),
  },
  {
    code: 'CLIENT_SECRET_EXPIRED',
    when: 'the client secret is past its end date',
    then: 'the fix says to create a new secret and store it in the vault',
    arrange: (h) => sandboxScenarios['expired-secret'](h.sandbox),
    status: 502,
    stage: 'token',
    smtp: () => /^invalid_client: AADSTS7000222: The provided client secret keys for app '[\w-]+' are expired\./,
    fix: (app) => [
      `App registrations > app ${app.clientId} > Certificates & secrets > New client secret`,
      'expiry date',
    ],
    cause: (app) => [app.clientId],
  },
  {
    code: 'APP_NOT_FOUND_IN_TENANT',
    when: 'EXOSEND_CLIENT_ID names no app of the tenant',
    then: 'the fix says where to copy the Application (client) ID from',
    arrange: () => ({ settings: { EXOSEND_CLIENT_ID: otherId } }),
    status: 502,
    stage: 'token',
    smtp: () =>
      new RegExp(
        `^unauthorized_client: AADSTS700016: Application with identifier '${otherId}' was not found in the directory`,
      ),
    fix: (app) => ['Application (client) ID', 'EXOSEND_CLIENT_ID', `EXOSEND_TENANT_ID (${app.tenantId})`],
    cause: (app) => [otherId, app.tenantId],
  },
  {
    code: 'TENANT_NOT_FOUND',
    when: 'EXOSEND_TENANT_ID names a tenant the identity platform does not know',
    then: "MSAL's endpoints_resolution_error is told apart from an outage and not retried",
    arrange: () => ({ settings: { EXOSEND_TENANT_ID: otherId } }),
    status: 502,
    stage: 'token',
    smtp: () => new RegExp(`^invalid_tenant: AADSTS90002: Tenant '${otherId}' not found\\.`),
    fix: () => [
      'Set EXOSEND_TENANT_ID to the Tenant ID shown in Entra admin center > Overview',
      'AZURE_AUTHORITY_HOST',
    ],
    cause: () => [otherId],
    verify: (h) => assert.equal(h.sandbox.identity.counters.tokenRequests, 0, 'no token endpoint of an unknown tenant'),
  },
  {
    code: 'TOKEN_ENDPOINT_UNAVAILABLE',
    when: 'the token endpoint answers every request with 503',
    then: 'the caller is told to come back later',
    // as for the vault: the SDK's own retries, four per try, wait 20 ms instead of Entra's second
    arrange: (h) => h.sandbox.identity.failTokenRequests(1000, 503, 1, 20),
    status: 503,
    stage: 'token',
    smtp: () => /^temporarily_unavailable: AADSTS90033: A transient error has occurred\./,
    fix: (app) => [
      'exosend retries on its own',
      'AZURE_AUTHORITY_HOST',
      `Service principal sign-ins for app ${app.clientId}`,
    ],
    verify: (h) => assert.ok(h.sandbox.identity.counters.tokenRequests >= 3, 'each of the three tries asked Entra'),
  },
  // the claims check: a token Exchange would certainly refuse is not sent to it
  {
    code: 'TOKEN_ROLE_MISSING',
    when: 'SMTP.SendAsApp was not granted to the app',
    then: 'the token never reaches Exchange and the fix grants the permission with admin consent',
    arrange: (h) => sandboxScenarios['missing-role'](h.sandbox),
    status: 502,
    stage: 'claims',
    smtp: (app) =>
      new RegExp(
        `^token: aud=https://outlook\\.office365\\.com tid=${app.tenantId} appid=${app.clientId} roles=\\[\\]$`,
      ),
    fix: (app) => [
      `App registrations > app ${app.clientId} > API permissions`,
      'Application permissions > SMTP.SendAsApp',
      'Grant admin consent',
      'EXOSEND_ROLES_MODE=rbac',
    ],
    cause: (app) => [app.clientId],
  },
  {
    code: 'TOKEN_WRONG_AUDIENCE',
    when: 'Entra issues the app tokens for Microsoft Graph',
    then: 'the token never reaches Exchange and the fix names the Exchange scope',
    arrange: (h) => sandboxScenarios['graph-audience'](h.sandbox),
    status: 502,
    stage: 'claims',
    smtp: () => /^token: aud=https:\/\/graph\.microsoft\.com /,
    fix: () => ['Set EXOSEND_SCOPE to https://outlook.office365.com/.default', 'v2.0'],
  },
  {
    code: 'TOKEN_TENANT_MISMATCH',
    when: 'the token comes from another tenant than EXOSEND_TENANT_ID',
    then: "the token never reaches Exchange and the fix names the mailbox's tenant",
    arrange: (h) => void h.sandbox.identity.updateApp(h.sandbox.app.clientId, { issueTokensAs: { tenantId: otherId } }),
    status: 502,
    stage: 'claims',
    smtp: () => new RegExp(` tid=${otherId} `),
    fix: () => ["Set EXOSEND_TENANT_ID to the Tenant ID of the mailbox's tenant"],
    cause: (app) => [app.tenantId, app.mailbox],
  },
  {
    code: 'TOKEN_APP_MISMATCH',
    when: 'the token belongs to another app than EXOSEND_CLIENT_ID',
    then: 'the token never reaches Exchange and the fix checks the client ID against the secret',
    arrange: (h) => void h.sandbox.identity.updateApp(h.sandbox.app.clientId, { issueTokensAs: { appId: otherId } }),
    status: 502,
    stage: 'claims',
    smtp: () => new RegExp(` appid=${otherId} `),
    fix: (app) => [
      `Check EXOSEND_CLIENT_ID against Entra admin center > App registrations > app ${app.clientId} > Overview`,
    ],
    cause: (app) => [app.clientId, app.secretName],
  },
  // Exchange Online at AUTH
  {
    code: 'SMTP_AUTH_DISABLED',
    when: 'SMTP AUTH is disabled for the tenant',
    then: 'the fix turns it on with Set-TransportConfig or for the mailbox with Set-CASMailbox',
    arrange: (h) => sandboxScenarios['smtp-auth-disabled'](h.sandbox),
    status: 502,
    stage: 'auth',
    smtp: () => /^535 5\.7\.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant\./,
    fix: (app) => [
      'Set-TransportConfig -SmtpClientAuthenticationDisabled $false',
      `Set-CASMailbox -Identity ${app.mailbox} -SmtpClientAuthenticationDisabled $false`,
      'EXOSEND_TRANSPORT=graph',
      'Microsoft Graph > Application permissions > Mail.Send',
    ],
    cause: (app) => [app.mailbox],
  },
  {
    code: 'SMTP_AUTH_DISABLED',
    when: 'SMTP AUTH is disabled for the mailbox',
    then: 'the fix turns it on for the mailbox with Set-CASMailbox',
    arrange: (h) => h.sandbox.exchange.configureMailbox(h.sandbox.app.mailbox, { smtpAuthDisabled: true }),
    status: 502,
    stage: 'auth',
    smtp: () => /^535 5\.7\.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox\./,
    fix: (app) => [
      `Set-CASMailbox -Identity ${app.mailbox} -SmtpClientAuthenticationDisabled $false`,
      `Get-CASMailbox -Identity ${app.mailbox}`,
    ],
  },
  {
    code: 'APP_NOT_REGISTERED_IN_EXCHANGE',
    kb: true,
    when: 'the app has no service principal in Exchange (535 5.7.139 "did not meet the criteria")',
    then: 'the fix is New-ServicePrincipal for this client ID, then FullAccess on the mailbox',
    arrange: (h) => sandboxScenarios['service-principal-not-registered'](h.sandbox),
    status: 502,
    stage: 'auth',
    smtp: () =>
      /^535 5\.7\.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully\./,
    fix: (app) => [
      `New-ServicePrincipal -AppId ${app.clientId} -ObjectId <Object ID from Entra admin center > Enterprise applications > app ${app.clientId} > Overview`,
      `Add-MailboxPermission -Identity ${app.mailbox} -User <the same Enterprise application Object ID> -AccessRights FullAccess`,
    ],
    cause: (app) => [app.clientId],
  },
  {
    code: 'AUTH_UNSUCCESSFUL',
    kb: true,
    when: 'the service principal has no FullAccess on the mailbox (535 5.7.3)',
    then: 'one fresh token is tried and the fix is the five-step checklist for this app and mailbox',
    arrange: (h) => h.sandbox.exchange.revokeFullAccess(h.sandbox.app.mailbox, h.sandbox.app.clientId),
    status: 502,
    stage: 'auth',
    smtp: () => /^535 5\.7\.3 Authentication unsuccessful$/,
    fix: (app) => [
      ...kbSetupSteps,
      `Get-ServicePrincipal | Where-Object AppId -eq ${app.clientId}`,
      `${app.mailbox} (EXOSEND_MAILBOX, or one of EXOSEND_MAILBOXES) is the user= address`,
      `Add-MailboxPermission -Identity ${app.mailbox}`,
      `Set-CASMailbox -Identity ${app.mailbox} -SmtpClientAuthenticationDisabled $false`,
    ],
    cause: (app) => [app.mailbox],
    verify: (h) => {
      assert.equal(h.sandbox.exchange.counters.authAttempts, 2, 'the refused token is dropped and one new one tried');
      assert.equal(h.sandbox.identity.counters.tokenRequests, 2);
    },
  },
  {
    code: 'TOKEN_EXPIRES_SOON',
    when: 'Exchange refuses tokens with less than two hours left (501 5.5.127)',
    then: 'fresh tokens are tried and the caller is told to come back later',
    arrange: (h) => h.sandbox.exchange.setLimits({ minTokenLifetimeSeconds: 2 * 60 * 60 }),
    status: 503,
    stage: 'auth',
    smtp: () => /^501 5\.5\.127 Invalid XOAUTH2 auth data - Token will expire soon$/,
    fix: () => ['exosend retries with a fresh token', 'host clock'],
    verify: (h) =>
      assert.equal(
        h.sandbox.exchange.counters.authAttempts,
        6,
        'three tries, each with a fresh token after the refusal',
      ),
  },
  // Exchange Online after AUTH
  {
    code: 'NOT_AUTHENTICATED',
    when: 'EXOSEND_SMTP_HOST is a relay that offers no AUTH',
    then: 'exosend insists on AUTH, sends nothing, and the fix points the app at smtp.office365.com:587',
    arrange: async () => {
      const impostor = await startRelayWithoutAuth();
      return { impostor, settings: smtpAt(impostor) };
    },
    status: 502,
    stage: 'auth',
    smtp: () => /^50[024] /,
    fix: () => ['EXOSEND_SMTP_HOST=smtp.office365.com and EXOSEND_SMTP_PORT=587', 'strips STARTTLS or AUTH'],
    verify: (h, _reply, { impostor }) => {
      // Regression: nodemailer skips AUTH when a server offers none, and the message went out unauthenticated
      assert.deepEqual(impostor?.commands, [], 'no MAIL FROM reached the relay');
      assert.equal(h.sandbox.exchange.counters.connections, 0);
    },
  },
  {
    code: 'SEND_AS_DENIED',
    kb: true,
    when: 'the mailbox lost Send As on the allowed sender it sends from (554 5.2.252)',
    then: 'the fix is Add-RecipientPermission for that address and this mailbox',
    arrange: (h) => {
      sandboxScenarios['send-as-denied'](h.sandbox);
      return { request: { from: h.sandbox.app.sendAsAddress } };
    },
    status: 502,
    stage: 'send',
    smtp: (app) =>
      new RegExp(
        `^554 5\\.2\\.252 SendAsDenied; ${escape(app.mailbox)} not allowed to send as ${escape(app.sendAsAddress)}; STOREDRV`,
      ),
    fix: (app) => [
      `Add-RecipientPermission -Identity ${app.sendAsAddress} -Trustee ${app.mailbox} -AccessRights SendAs`,
      `Send from ${app.mailbox}`,
    ],
    cause: (app) => [app.mailbox, app.sendAsAddress],
  },
  {
    code: 'CONCURRENCY_LIMIT',
    when: "other clients hold the mailbox's three SMTP sessions (432 4.3.2)",
    then: 'the caller is told to come back later and the fix lowers EXOSEND_MAX_CONNECTIONS',
    arrange: (h) => sandboxScenarios.throttled(h.sandbox),
    status: 503,
    stage: 'send',
    smtp: () => /^432 4\.3\.2 STOREDRV\.ClientSubmit; sender thread limit exceeded$/,
    fix: (app) => ['Lower EXOSEND_MAX_CONNECTIONS', `other senders share ${app.mailbox}`],
    verify: (h) =>
      assert.equal(h.sandbox.exchange.counters.replies.filter((r) => r.code === 432).length, 3, 'three tries'),
  },
  {
    code: 'DAILY_QUOTA_EXCEEDED',
    when: 'the mailbox has used up its 10,000 recipients of the last 24 hours (554 5.2.0)',
    then: 'it is not retried now and the diagnosis says to wait an hour or more',
    arrange: (h) => h.sandbox.exchange.configureMailbox(h.sandbox.app.mailbox, { dailyRecipientQuota: 0 }),
    status: 502,
    stage: 'send',
    smtp: () => /^554 5\.2\.0 STOREDRV\.Submission\.Exception:SubmissionQuotaExceededException;/,
    fix: () => ['Send again after the window has rolled', 'EXOSEND_RATE_PER_MINUTE'],
    cause: (app) => [app.mailbox],
    verify: (_h, reply) => assert.equal(reply.body.error.diagnosis.retryAfterSeconds, 3600),
  },
  {
    code: 'MAILBOX_FULL',
    when: 'Sent Items filled the mailbox (554 5.2.2)',
    then: "the fix empties this mailbox's Sent Items",
    arrange: (h) => sandboxScenarios['mailbox-full'](h.sandbox),
    status: 502,
    stage: 'send',
    smtp: () => /^554 5\.2\.2 mailbox full;/,
    fix: (app) => [`Get-MailboxFolderStatistics -Identity ${app.mailbox} -FolderScope SentItems`, 'retention policy'],
  },
  {
    code: 'SENDER_BLOCKED',
    when: 'Microsoft 365 has put the sender on its restricted list (550 5.1.8)',
    then: 'the fix releases the mailbox under Restricted entities',
    // the stand-in has no setting for an outbound-spam block: the reply is injected
    arrange: (h) => h.sandbox.exchange.failNext('mail', '550 5.1.8 Access denied, bad outbound sender AS(42004)'),
    status: 502,
    stage: 'send',
    smtp: () => /^550 5\.1\.8 Access denied, bad outbound sender/,
    fix: (app) => [`Restricted entities: release ${app.mailbox}`],
  },
  {
    code: 'SMTP_REJECTED',
    when: 'Exchange refuses the only recipient for good (550 5.1.10)',
    then: 'the reply is passed on and the fix says the message must change',
    // the stand-in accepts every recipient: the refusal is injected
    arrange: (h) =>
      h.sandbox.exchange.failNext(
        'rcpt',
        '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
      ),
    status: 502,
    stage: 'send',
    smtp: () => /^550 5\.1\.10 RESOLVER\.ADR\.RecipientNotFound;/,
    fix: (app) => ['Sending it again unchanged will fail again', `Mailboxes > ${app.mailbox}`],
  },
  // the way to Exchange
  {
    code: 'TLS_REJECTED',
    when: 'the server at EXOSEND_SMTP_HOST offers no STARTTLS',
    then: 'no AUTH is sent in clear text and the fix names smtp.office365.com:587 with STARTTLS',
    arrange: async () => {
      const impostor = await startServerWithoutStartTls();
      return { impostor, settings: smtpAt(impostor) };
    },
    status: 502,
    stage: 'tls',
    smtp: () => /^502 5\.5\.1 Command not implemented$/,
    fix: () => ['EXOSEND_SMTP_HOST=smtp.office365.com with EXOSEND_SMTP_PORT=587 (STARTTLS, TLS 1.2 or newer)'],
    verify: (_h, _reply, { impostor }) => {
      assert.deepEqual(
        impostor?.commands.map((c) => c.split(' ')[0]),
        ['EHLO', 'STARTTLS'],
      );
    },
  },
  {
    code: 'TLS_REJECTED',
    when: 'the server offers only TLS 1.0 and 1.1',
    then: 'exosend keeps to TLS 1.2 and sends nothing, not even AUTH',
    arrange: async () => {
      const impostor = await startServerWithOldTlsOnly();
      return { impostor, settings: smtpAt(impostor) };
    },
    status: 502,
    stage: 'tls',
    smtp: () => /^E(TLS|SOCKET)\b.*protocol version/i,
    fix: () => ['EXOSEND_SMTP_HOST=smtp.office365.com with EXOSEND_SMTP_PORT=587 (STARTTLS, TLS 1.2 or newer)'],
    verify: (_h, _reply, { impostor }) => {
      assert.deepEqual(impostor?.commands, [], 'nothing was said after STARTTLS');
    },
  },
  {
    code: 'TLS_REJECTED',
    when: "the server's certificate is not trusted",
    then: 'the fix names the CA a TLS-intercepting proxy needs',
    arrange: async () => {
      const impostor = await startServerWithUntrustedCertificate();
      return { impostor, settings: smtpAt(impostor) };
    },
    status: 502,
    stage: 'tls',
    smtp: () => /^E(TLS|SOCKET)\b.*(certificate|self.signed|unable to verify)/i,
    fix: () => ['NODE_EXTRA_CA_CERTS'],
    verify: (_h, _reply, { impostor }) => assert.deepEqual(impostor?.commands, []),
  },
  {
    code: 'TEMPORARY_FAILURE',
    when: 'Exchange answers 451 4.7.0 to every MAIL FROM',
    then: 'three tries are made and the caller is told to come back later',
    // transient front-end errors are not a setting: injected
    arrange: (h) =>
      h.sandbox.exchange.setFaultInjector((c) =>
        c.stage === 'mail' ? { reply: '451 4.7.0 Temporary server error. Please try again later. PRX4' } : undefined,
      ),
    status: 503,
    stage: 'send',
    smtp: () => /^451 4\.7\.0 Temporary server error\. Please try again later\. PRX4$/,
    fix: () => ['exosend retries on its own', 'outbound port 587'],
    verify: (h) =>
      assert.equal(h.sandbox.exchange.counters.replies.filter((r) => r.code === 451).length, 3, 'three tries'),
  },
  {
    code: 'TEMPORARY_FAILURE',
    when: 'Exchange drops the connection at every MAIL FROM',
    then: 'it is not retried inside the call (a lost connection may have been accepted) and the caller is told to come back later',
    arrange: (h) => h.sandbox.exchange.setFaultInjector((c) => (c.stage === 'mail' ? { drop: true } : undefined)),
    status: 503,
    stage: 'connect',
    smtp: () => /^E(CONNECTION|SOCKET)\b.*Connection closed/,
    fix: () => ['exosend retries on its own', 'EXOSEND_SMTP_HOST on EXOSEND_SMTP_PORT'],
    // Regression: a connection dropped after DATA was retried inside the call, and the message went out twice
    verify: (h) =>
      assert.equal(
        h.sandbox.exchange.counters.connections,
        1,
        'one try: exosend cannot tell a drop before DATA from one after',
      ),
  },
  // Microsoft Graph (EXOSEND_TRANSPORT=graph): Graph's answers, as the Graph stand-in gives them
  {
    code: 'GRAPH_PERMISSION_MISSING',
    when: 'Mail.Send was never granted on Microsoft Graph and the app sends through Graph',
    then: 'the token is refused before any request and the fix names the Graph permission and the RBAC alternative',
    arrange: withScenario('graph-permission-missing'),
    status: 502,
    stage: 'claims',
    smtp: (app) =>
      new RegExp(
        `^Graph token: aud=https://graph\\.microsoft\\.com tid=${app.tenantId} appid=${app.clientId} roles=\\[\\]$`,
      ),
    fix: (app) => [
      'Microsoft Graph > Application permissions > Mail.Send',
      `New-ManagementRoleAssignment -App ${app.clientId} -Role "Application Mail.Send"`,
    ],
    verify: (h) => assert.equal(h.sandbox.graph.counters.requests, 0, 'a token Graph would refuse is not sent'),
  },
  {
    code: 'GRAPH_ACCESS_DENIED',
    when: 'an application access policy (or the RBAC scope) leaves the mailbox out (403 ErrorAccessDenied)',
    then: 'the fix walks the permission, the RBAC scope and the access policy for this mailbox',
    arrange: withScenario('graph-access-policy'),
    status: 502,
    stage: 'auth',
    smtp: () => /^403 ErrorAccessDenied: Access is denied\. Check credentials and try again\.$/,
    fix: (app) => [
      `Test-ServicePrincipalAuthorization -Identity ${app.clientId} -Resource ${app.mailbox}`,
      `Test-ApplicationAccessPolicy -Identity ${app.mailbox} -AppId ${app.clientId}`,
    ],
  },
  {
    code: 'GRAPH_MAILBOX_NOT_FOUND',
    when: 'EXOSEND_MAILBOX names a mailbox Graph does not know (404 ErrorInvalidUser)',
    then: 'the fix names the setting and how to read the right address',
    arrange: () => ({
      settings: {
        EXOSEND_TRANSPORT: 'graph',
        EXOSEND_MAILBOX: 'ghost@contoso.example',
        EXOSEND_ALLOWED_SENDERS: 'ghost@contoso.example',
      },
    }),
    status: 502,
    stage: 'send',
    smtp: () => /^404 ErrorInvalidUser: The requested user 'ghost@contoso\.example' is invalid\.$/,
    fix: () => ['Set EXOSEND_MAILBOX', 'Get-Mailbox -Identity ghost@contoso.example'],
  },
  {
    code: 'GRAPH_MAILBOX_NOT_ENABLED',
    when: 'the mailbox is unlicensed or on-premises (MailboxNotEnabledForRESTAPI)',
    then: 'the fix names the licence and the SMTP way out',
    arrange: withScenario('graph-mailbox-not-enabled'),
    status: 502,
    stage: 'send',
    smtp: () => /^404 MailboxNotEnabledForRESTAPI: /,
    fix: (app) => [`Users > Active users > ${app.mailbox} > Licenses and apps`, 'EXOSEND_TRANSPORT=smtp'],
  },
  {
    code: 'SEND_AS_DENIED',
    when: 'the mailbox lost Send As on the allowed sender and the message goes through Graph (403 ErrorSendAsDenied)',
    then: 'the fix is the same Add-RecipientPermission as on SMTP',
    arrange: (h) => {
      sandboxScenarios['graph-send-as-denied'](h.sandbox);
      return {
        settings: scenarioSettings(h.sandbox, 'graph-send-as-denied'),
        request: { from: h.sandbox.app.sendAsAddress },
      };
    },
    status: 502,
    stage: 'send',
    smtp: () => /^403 ErrorSendAsDenied: /,
    fix: (app) => [
      `Add-RecipientPermission -Identity ${app.sendAsAddress} -Trustee ${app.mailbox} -AccessRights SendAs`,
    ],
  },
  {
    code: 'GRAPH_MESSAGE_TOO_LARGE',
    when: 'the message is larger than the mailbox takes through Graph (400 ErrorMessageSizeExceeded)',
    then: 'the fix names smaller attachments and Mail.ReadWrite for the upload path',
    arrange: (h) => {
      h.sandbox.graph.setLimits({ maxMessageBytes: 1000 });
      return { settings: { EXOSEND_TRANSPORT: 'graph' }, request: { text: 'x'.repeat(2000) } };
    },
    status: 502,
    stage: 'send',
    smtp: () => /^400 ErrorMessageSizeExceeded: The message exceeds the maximum supported size\./,
    fix: (app) => ['Send smaller attachments', `Get-Mailbox -Identity ${app.mailbox} | Format-List MaxSendSize`],
  },
  {
    code: 'GRAPH_INVALID_MIME',
    when: 'Graph cannot read the MIME it was given (400 ErrorMimeContentInvalidBase64String, as a body-altering proxy causes)',
    then: 'the fix points at the proxy and the maintainers',
    arrange: (h) => {
      h.sandbox.graph.failNext({
        status: 400,
        code: 'ErrorMimeContentInvalidBase64String',
        message: 'Invalid base64 string for MIME content.',
      });
      return { settings: { EXOSEND_TRANSPORT: 'graph' } };
    },
    status: 502,
    stage: 'send',
    smtp: () => /^400 ErrorMimeContentInvalidBase64String: Invalid base64 string for MIME content\.$/,
    fix: () => ['EXOSEND_GRAPH_ENDPOINT points through a proxy'],
  },
  {
    code: 'GRAPH_THROTTLED',
    when: 'Graph throttles the app on the mailbox for longer than the call (429 with Retry-After)',
    then: "the caller is told to come back after Graph's Retry-After",
    arrange: withScenario('graph-throttled'),
    status: 503,
    stage: 'send',
    smtp: () => /^429 ApplicationThrottled: Application is over its MailboxConcurrency limit\.$/,
    fix: (app) => ['Retry-After', `no other workload uses app ${app.clientId}`],
    verify: (_h, reply) => assert.equal(reply.headers['retry-after'], '30'),
  },
  {
    code: 'GRAPH_UNAVAILABLE',
    when: 'EXOSEND_GRAPH_ENDPOINT cannot be reached',
    then: 'it is tried again (nothing can have been sent) and the caller is told to come back later',
    arrange: async () => ({
      settings: { EXOSEND_TRANSPORT: 'graph', EXOSEND_GRAPH_ENDPOINT: `https://127.0.0.1:${await closedPort()}` },
    }),
    status: 503,
    stage: 'connect',
    smtp: () => /^Microsoft Graph could not be reached \(ECONNREFUSED\)$/,
    fix: () => ['EXOSEND_GRAPH_ENDPOINT', 'outbound 443'],
  },
  {
    code: 'GRAPH_REJECTED',
    when: 'Graph refuses the message with an answer exosend has no entry for (400 ErrorInvalidRecipients)',
    then: 'it is not retried and the fix says to read the reply',
    arrange: (h) => {
      h.sandbox.graph.failNext(
        { status: 400, code: 'ErrorInvalidRecipients', message: 'At least one recipient is not valid.' },
        5,
      );
      return { settings: { EXOSEND_TRANSPORT: 'graph' } };
    },
    status: 502,
    stage: 'send',
    smtp: () => /^400 ErrorInvalidRecipients: At least one recipient is not valid\.$/,
    fix: () => ['Read the reply'],
    verify: (h) => assert.equal(h.sandbox.graph.counters.errors.length, 1, 'one try'),
  },
];

const beforeSmtp = new Set<Stage>(['vault', 'certificate', 'token', 'claims']);
/** A catalogue placeholder, or the stand-in text diagnose() puts where the context had no value. */
const unfilled =
  /\{\w+\}|<(tenant id|client id|mailbox|From address|vault URL|secret name|scope|vault name|certificate name|thumbprint|not before|not after|principal ID of the managed identity|AZURE_CLIENT_ID)>/;

describe('POST /api/send when the setup is wrong: every diagnosis, end to end', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());
  beforeEach(() => h.reset());

  for (const c of cases) {
    const source = c.kb ? ' (KB486942)' : '';
    it(`when ${c.when}${source}, then ${c.status} ${c.code}: ${c.then}`, async () => {
      const arranged = (await c.arrange(h)) ?? {};
      try {
        if (arranged.settings) h.restartApp(arranged.settings);
        const app = h.sandbox.app;
        const reply = await h.send(mailRequest(arranged.request));
        const { error } = reply.body;
        const diagnosis = error?.diagnosis;

        assert.equal(reply.status, c.status, JSON.stringify(reply.body, null, 2));
        if (c.status === 503) assert.match(reply.headers['retry-after'] ?? '', /^\d+$/, 'Retry-After in seconds');
        // a permanent refusal carries Retry-After only when it ends on its own (the daily quota)
        else assert.equal(reply.headers['retry-after'], reply.body.error.diagnosis.retryAfterSeconds?.toString());
        assert.equal(error.code, c.code);
        assert.equal(error.message, diagnosis.cause);
        assert.equal(diagnosis.code, c.code);
        assert.equal(diagnosis.stage, c.stage);
        assert.equal(diagnosis.retryable, c.status === 503);
        assert.match(diagnosis.smtp ?? '', c.smtp(app));
        for (const step of c.fix(app)) {
          if (typeof step === 'string')
            assert.ok(diagnosis.fix.includes(step), `the fix names "${step}":\n${diagnosis.fix}`);
          else assert.match(diagnosis.fix, step);
        }
        for (const part of c.cause?.(app) ?? [])
          assert.ok(diagnosis.cause.includes(part), `the cause names "${part}":\n${diagnosis.cause}`);
        assert.doesNotMatch(
          `${diagnosis.cause}\n${diagnosis.fix}`,
          unfilled,
          'every placeholder names this app, mailbox and vault',
        );

        assert.equal(h.sandbox.exchange.counters.accepted, 0, 'nothing was sent');
        if (beforeSmtp.has(c.stage)) {
          assert.equal(
            h.sandbox.exchange.counters.connections,
            0,
            'a token that will certainly be refused is not sent to Exchange',
          );
        }
        c.verify?.(h, reply, arranged);
      } finally {
        h.restartApp(); // closes the pool before its server goes
        await arranged.impostor?.close();
      }
    });
  }

  // Regression: the fixes said "into the vault <vault URL> as the secret <secret name>" and "(now
  // <scope>)": the credential, the claims check and the transport left the vault, the secret name
  // and the scope out of what they handed the catalogue, so the admin read placeholders.
  it('when Entra refuses the secret, a token is of another app or Exchange answers 535 5.7.3, then the fix names this vault, secret and scope', async () => {
    const { app, vault } = h.sandbox;
    sandboxScenarios['wrong-secret'](h.sandbox);
    const refused = (await h.send(mailRequest())).body.error.diagnosis;
    assert.ok(refused.fix.includes(`into the vault ${vault.url} as the secret ${app.secretName}`), refused.fix);

    sandboxScenarios.healthy(h.sandbox);
    h.sandbox.identity.updateApp(app.clientId, { issueTokensAs: { appId: otherId } });
    h.restartApp();
    const mismatch = (await h.send(mailRequest())).body.error.diagnosis;
    assert.ok(mismatch.cause.includes(`the secret in ${app.secretName}`), mismatch.cause);

    sandboxScenarios.healthy(h.sandbox);
    h.sandbox.exchange.revokeFullAccess(app.mailbox, app.clientId);
    h.restartApp();
    const checklist = (await h.send(mailRequest())).body.error.diagnosis;
    assert.ok(checklist.fix.includes('(now https://outlook.office365.com/.default)'), checklist.fix);
  });

  it('when the table is read, then it covers every diagnosis code and the three errors of KB486942', () => {
    // READER_ACCESS_DENIED never comes from a send: the reader's own test drives it end to end (test/delivery-reader.test.ts)
    assert.deepEqual(
      [...new Set(cases.map((c) => c.code))].sort(),
      diagnosisCodes.filter((code) => code !== 'READER_ACCESS_DENIED').sort(),
    );
    assert.deepEqual(
      cases
        .filter((c) => c.kb)
        .map((c) => c.code)
        .sort(),
      ['APP_NOT_REGISTERED_IN_EXCHANGE', 'AUTH_UNSUCCESSFUL', 'SEND_AS_DENIED'],
    );
  });
});
