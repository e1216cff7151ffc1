import { unrelatedMail } from './delivery-reports.js';
import type { Sandbox, SandboxApp } from './sandbox.js';
import { healthyCallers, samplePolicy, spentQuota, type SandboxCallers } from './sandbox-callers.js';
import {
  certificateContentTypes,
  certificateSecretValue,
  issueClientCertificate,
  privateKeyForms,
  type CertificateFormat,
  type ClientCertificate,
} from './pki.js';

/**
 * A named misconfiguration: reconfigures the stand-ins (from healthy) so the app meets that failure.
 * `credential` is the EXOSEND_CREDENTIAL the app must run with to meet it (`npm start` sets it).
 */
export type SandboxScenario = ((sandbox: Sandbox) => void) & {
  description: string;
  credential: 'secret' | 'certificate' | 'federated';
  /** Settings the scenario changes on top of the credential's (an AZURE_CLIENT_ID that names the wrong identity). */
  settings?: (app: SandboxApp) => Record<string, string>;
  /** The caller policies (and spent quota) it wants in exosend's storage (local/sandbox/apply-callers.ts applies them). */
  callers: (sandbox: Sandbox) => SandboxCallers;
};

const scenario = (
  description: string,
  apply: (sandbox: Sandbox) => void,
  credential: SandboxScenario['credential'] = 'secret',
  settings?: SandboxScenario['settings'],
  callers: SandboxScenario['callers'] = healthyCallers,
): SandboxScenario =>
  Object.assign(
    (sandbox: Sandbox) => {
      healthy(sandbox);
      apply(sandbox);
    },
    { description, credential, callers, ...(settings && { settings }) },
  );

/** A scenario about exosend's callers: the stand-ins as healthy, the caller policies or the ledger not. */
const onCallers = (description: string, callers: SandboxScenario['callers']): SandboxScenario =>
  scenario(description, () => undefined, 'secret', undefined, callers);

/** The settings that switch exosend to each credential kind, on top of `settings`. */
export function credentialSettings(
  app: SandboxApp,
  kind: 'secret' | 'certificate' | 'federated',
): Record<string, string | undefined> {
  if (kind === 'secret') return { EXOSEND_CREDENTIAL: undefined };
  if (kind === 'certificate')
    return { EXOSEND_CREDENTIAL: 'certificate', EXOSEND_CLIENT_CERTIFICATE_NAME: app.certificateName };
  // no vault at all: the managed identity's token is the whole credential
  return {
    EXOSEND_CREDENTIAL: 'federated',
    AZURE_CLIENT_ID: app.federatedIdentity.clientId,
    EXOSEND_KEY_VAULT_URL: undefined,
  };
}

/** The app settings a scenario needs on top of the sandbox's. */
export function scenarioSettings(sandbox: Sandbox, name: SandboxScenarioName): Record<string, string | undefined> {
  const chosen: SandboxScenario = sandboxScenarios[name];
  return { ...credentialSettings(sandbox.app, chosen.credential), ...chosen.settings?.(sandbox.app) };
}

/** Stores a certificate in the vault as `az keyvault certificate import` would: its secret, in the format asked for. */
export function storeCertificate(
  sandbox: Sandbox,
  cert: ClientCertificate,
  format: CertificateFormat = 'pkcs12',
  withPrivateKey = true,
): void {
  sandbox.vault.rememberSecrets(privateKeyForms(cert));
  sandbox.vault.setSecret(sandbox.app.certificateName, certificateSecretValue(cert, format, withPrivateKey), {
    contentType: certificateContentTypes[format],
    expiresOn: cert.notAfter,
    certificate: true,
  });
}

const dayInMs = 24 * 60 * 60 * 1000;

/** A certificate the app registration also knows, with other dates: the vault's copy fails the local check. */
function replaceCertificate(s: Sandbox, dates: { notBefore: Date; notAfter: Date }): void {
  const cert = issueClientCertificate(dates);
  s.identity.updateApp(s.app.clientId, { certificates: [cert.certPem] });
  storeCertificate(s, cert);
}

/** Every setting the scenarios touch, back to a working setup. */
function healthy(sandbox: Sandbox): void {
  const { identity, vault, exchange, app } = sandbox;
  identity.updateApp(app.clientId, {
    certificates: [app.certificate.certPem],
    federatedCredentials: [
      {
        name: 'exosend-function-app',
        issuer: app.federation.issuer,
        subject: app.federation.subject,
        audiences: [app.federation.audience],
      },
    ],
    secrets: [app.secret],
    secretExpired: false,
    roles: ['SMTP.SendAsApp'],
    graphRoles: ['Mail.Send', 'Mail.ReadWrite', 'Mail.Read'],
    audience: undefined,
    issueTokensAs: undefined,
    lifetimeSeconds: 3600,
  });
  identity.failTokenRequests(0);
  vault.denyAccess(false);
  vault.failRequests(0);
  vault.grantAccess(identity.managedIdentity.objectId);
  if (vault.currentValue(app.secretName) !== app.secret)
    vault.setSecret(app.secretName, app.secret, { expiresOn: app.secretExpiresOn });
  if (vault.currentValue(app.certificateName) !== app.certificate.pfxBase64) storeCertificate(sandbox, app.certificate);
  identity.assignIdentity(app.federatedIdentity.clientId, true);
  identity.assignIdentity(app.unassignedIdentityClientId, false);
  exchange.configureTenant(app.tenantId, { smtpAuthDisabled: false });
  exchange.configureMailbox(app.mailbox, {
    smtpAuthDisabled: undefined,
    mailboxFull: false,
    dailyRecipientQuota: 10_000,
    otherClientSessions: 0,
  });
  exchange.registerServicePrincipal({ tenantId: app.tenantId, appId: app.clientId, objectId: app.servicePrincipalId });
  exchange.grantFullAccess(app.mailbox, app.clientId);
  exchange.grantSendAs(app.mailbox, app.sendAsAddress);
  exchange.configureMailbox(app.secondMailbox, {
    smtpAuthDisabled: undefined,
    mailboxFull: false,
    dailyRecipientQuota: 10_000,
    otherClientSessions: 0,
  });
  exchange.grantFullAccess(app.secondMailbox, app.clientId);
  exchange.setLimits({
    maxSessionsPerMailbox: 3,
    messagesPerMinute: 30,
    rateWindowInMs: 60_000,
    dayWindowInMs: 24 * 60 * 60 * 1000,
    minTokenLifetimeSeconds: 0,
  });
  exchange.resetUsage();
  sandbox.graph.reset();
  sandbox.inboxes.clear();
  sandbox.reports.reset();
  // the owner's own mail, which a reader of delivery reports must leave alone
  for (const mail of unrelatedMail(app.mailbox)) sandbox.inboxes.add(app.mailbox, mail);
}

/** A scenario on Microsoft Graph (EXOSEND_TRANSPORT=graph): the same tenant, sent through sendMail. */
const onGraph = (description: string, apply: (sandbox: Sandbox) => void): SandboxScenario =>
  scenario(description, apply, 'secret', () => ({ EXOSEND_TRANSPORT: 'graph' }));

export const sandboxScenarios = {
  healthy: scenario('Everything set up as KB486942 asks: a send succeeds.', () => undefined),
  'smtp-auth-disabled': scenario(
    'SMTP AUTH is disabled for the tenant: AUTH gets 535 5.7.139 ... disabled for the Tenant.',
    (s) => s.exchange.configureTenant(s.app.tenantId, { smtpAuthDisabled: true }),
  ),
  'service-principal-not-registered': scenario(
    'No New-ServicePrincipal in Exchange: AUTH gets 535 5.7.139 ... did not meet the criteria.',
    (s) => s.exchange.removeServicePrincipal(s.app.tenantId, s.app.clientId),
  ),
  'missing-role': scenario(
    'SMTP.SendAsApp not granted (or not consented): the token has no roles, AUTH gets 535 5.7.3.',
    (s) => s.identity.updateApp(s.app.clientId, { roles: [] }),
  ),
  'graph-audience': scenario(
    'Tokens come out for Microsoft Graph (the v1-endpoint pitfall): aud is wrong, AUTH gets 535 5.7.3.',
    (s) => s.identity.updateApp(s.app.clientId, { audience: 'https://graph.microsoft.com' }),
  ),
  'send-as-denied': scenario(
    'The mailbox lost Send As on the allowed sender billing@: a send from it gets 554 5.2.252 SendAsDenied.',
    (s) => s.exchange.revokeSendAs(s.app.mailbox, s.app.sendAsAddress),
  ),
  'wrong-secret': scenario(
    'The secret was rotated in Entra but not in the vault: the token request fails with AADSTS7000215.',
    (s) => s.identity.updateApp(s.app.clientId, { secrets: [`rotated-${Date.now()}`] }),
  ),
  'expired-secret': scenario(
    'The client secret passed its end date: the token request fails with AADSTS7000222.',
    (s) => s.identity.updateApp(s.app.clientId, { secretExpired: true }),
  ),
  'secret-missing': scenario('The vault has no secret of that name: the read fails with 404 SecretNotFound.', (s) =>
    s.vault.deleteSecret(s.app.secretName),
  ),
  'vault-denied': scenario("The app's managed identity may not read secrets: the read fails with 403 Forbidden.", (s) =>
    s.vault.denyAccess(true),
  ),
  throttled: scenario(
    "Other clients hold the mailbox's 3 concurrent sessions: MAIL FROM gets 432 4.3.2 sender thread limit exceeded.",
    (s) => s.exchange.configureMailbox(s.app.mailbox, { otherClientSessions: s.exchange.limits.maxSessionsPerMailbox }),
  ),
  'mailbox-full': scenario('Sent Items filled the mailbox: DATA gets 554 5.2.2 mailbox full.', (s) =>
    s.exchange.configureMailbox(s.app.mailbox, { mailboxFull: true }),
  ),
  certificate: scenario(
    "EXOSEND_CREDENTIAL=certificate, set up right: the app signs its client assertions with the vault's certificate.",
    () => undefined,
    'certificate',
  ),
  'certificate-not-registered': scenario(
    "The vault's certificate was never uploaded to the app registration: the token request fails with AADSTS700027.",
    (s) => s.identity.updateApp(s.app.clientId, { certificates: [] }),
    'certificate',
  ),
  'certificate-expired': scenario(
    'The certificate in the vault passed its notAfter date: exosend refuses it before asking Entra.',
    (s) =>
      replaceCertificate(s, {
        notBefore: new Date(Date.now() - 400 * dayInMs),
        notAfter: new Date(Date.now() - dayInMs),
      }),
    'certificate',
  ),
  'certificate-not-yet-valid': scenario(
    'The certificate in the vault starts tomorrow (notBefore): exosend refuses it before asking Entra.',
    (s) =>
      replaceCertificate(s, {
        notBefore: new Date(Date.now() + dayInMs),
        notAfter: new Date(Date.now() + 365 * dayInMs),
      }),
    'certificate',
  ),
  'certificate-missing': scenario(
    'The vault has no certificate of that name: the read of its secret fails with 404.',
    (s) => s.vault.deleteSecret(s.app.certificateName),
    'certificate',
  ),
  'certificate-without-key': scenario(
    "The vault's certificate has no private key (imported as .cer, or not exportable): nothing can sign.",
    (s) => storeCertificate(s, s.app.certificate, 'pem', false),
    'certificate',
  ),
  federated: scenario(
    "EXOSEND_CREDENTIAL=federated, set up right: the managed identity's token is the client assertion; no vault read.",
    () => undefined,
    'federated',
  ),
  'federation-issuer-mismatch': scenario(
    "The federated credential names another issuer than the managed identity's tenant: AADSTS700211.",
    (s) =>
      s.identity.updateApp(s.app.clientId, {
        federatedCredentials: [
          { ...federation(s), issuer: 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0' },
        ],
      }),
    'federated',
  ),
  'federation-subject-mismatch': scenario(
    "The federated credential names another principal than the Function App's identity: AADSTS700213.",
    (s) =>
      s.identity.updateApp(s.app.clientId, {
        federatedCredentials: [{ ...federation(s), subject: '00000000-0000-0000-0000-000000000000' }],
      }),
    'federated',
  ),
  'federation-audience-mismatch': scenario(
    'The federated credential expects another audience than EXOSEND_FEDERATED_AUDIENCE: AADSTS700212.',
    (s) =>
      s.identity.updateApp(s.app.clientId, {
        federatedCredentials: [{ ...federation(s), audiences: ['api://AzureADTokenExchangeUSGov'] }],
      }),
    'federated',
  ),
  'identity-not-assigned': scenario(
    'AZURE_CLIENT_ID names a user-assigned identity that is not assigned to the Function App: its identity endpoint refuses it.',
    () => undefined,
    'federated',
    (app) => ({ AZURE_CLIENT_ID: app.unassignedIdentityClientId }),
  ),
  graph: onGraph(
    "EXOSEND_TRANSPORT=graph, set up right: Mail.Send granted, each message goes through Graph's sendMail with the same MIME.",
    () => undefined,
  ),
  'smtp-auth-disabled-auto': scenario(
    'EXOSEND_TRANSPORT=auto with SMTP AUTH disabled for the tenant: the first send meets 535 5.7.139, the mailbox switches to Graph.',
    (s) => s.exchange.configureTenant(s.app.tenantId, { smtpAuthDisabled: true }),
    'secret',
    () => ({ EXOSEND_TRANSPORT: 'auto' }),
  ),
  'graph-permission-missing': onGraph(
    'Mail.Send not granted on Microsoft Graph (or not consented): the Graph token has no roles.',
    (s) => s.identity.updateApp(s.app.clientId, { graphRoles: [] }),
  ),
  'graph-large-without-readwrite': onGraph(
    'Mail.Send granted but not Mail.ReadWrite: messages up to 4 MB go through sendMail, a larger one is refused with 413 naming Mail.ReadWrite (the draft path needs it).',
    (s) => s.identity.updateApp(s.app.clientId, { graphRoles: ['Mail.Send'] }),
  ),
  'graph-access-policy': onGraph(
    'An application access policy (or an RBAC for Applications scope) leaves the mailbox out: sendMail gets 403 ErrorAccessDenied.',
    (s) => s.graph.scopeApp(s.app.clientId, [s.app.secondMailbox]),
  ),
  'graph-mailbox-not-enabled': onGraph(
    'The mailbox has no Exchange Online licence (or is on-premises): sendMail gets MailboxNotEnabledForRESTAPI.',
    (s) => s.graph.setRestEnabled(s.app.mailbox, false),
  ),
  'graph-send-as-denied': onGraph(
    'The mailbox lost Send As on billing@: a send from it through Graph gets 403 ErrorSendAsDenied.',
    (s) => s.exchange.revokeSendAs(s.app.mailbox, s.app.sendAsAddress),
  ),
  'reader-permission-missing': scenario(
    'Mail.Read not granted on Microsoft Graph: sending works, but the delivery reports reader is refused (READER_ACCESS_DENIED) and recipients stay pending.',
    (s) => s.identity.updateApp(s.app.clientId, { graphRoles: ['Mail.Send'] }),
  ),
  'graph-throttled': onGraph(
    'Graph throttles the app on the mailbox: sendMail gets 429 ApplicationThrottled with Retry-After.',
    (s) =>
      s.graph.failNext(
        {
          status: 429,
          code: 'ApplicationThrottled',
          message: 'Application is over its MailboxConcurrency limit.',
          retryAfterSeconds: 30,
        },
        1_000_000,
      ),
  ),
  'caller-not-registered': onCallers(
    "The sample caller erp (the banner's bearer curl line) has the app role but no policy: its send gets 403 CALLER_NOT_REGISTERED naming `exosend caller add`.",
    (s) => ({ policies: healthyCallers(s).policies.filter((p) => p.appId !== samplePolicy(s).appId) }),
  ),
  'caller-over-quota': onCallers(
    `The sample caller erp may send ${spentQuota} recipients a day and the shared ledger counts ${spentQuota}: its send gets 429 CALLER_DAILY_QUOTA_REACHED with Retry-After; function-key sends still go.`,
    (s) => ({
      policies: healthyCallers(s).policies.map((p) =>
        p.appId === samplePolicy(s).appId ? { ...p, dailyQuota: spentQuota } : p,
      ),
      spent: { appId: samplePolicy(s).appId, recipients: spentQuota },
    }),
  ),
} satisfies Record<string, SandboxScenario>;

export type SandboxScenarioName = keyof typeof sandboxScenarios;

function federation(s: Sandbox) {
  const { issuer, subject, audience } = s.app.federation;
  return { name: 'exosend-function-app', issuer, subject, audiences: [audience] };
}
