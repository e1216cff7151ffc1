import type { Sandbox } from './index.js';

/** A named misconfiguration: reconfigures the stand-ins (from healthy) so the app meets that failure. */
export type SandboxScenario = ((sandbox: Sandbox) => void) & { description: string };

const scenario = (description: string, apply: (sandbox: Sandbox) => void): SandboxScenario =>
  Object.assign(
    (sandbox: Sandbox) => {
      healthy(sandbox);
      apply(sandbox);
    },
    { description },
  );

/** Every setting the scenarios touch, back to a working setup. */
function healthy({ identity, vault, exchange, app }: Sandbox): void {
  identity.updateApp(app.clientId, {
    secrets: [app.secret],
    secretExpired: false,
    roles: ['SMTP.SendAsApp'],
    audience: undefined,
    issueTokensAs: undefined,
    lifetimeSeconds: 3600,
  });
  identity.failTokenRequests(0);
  vault.denyAccess(false);
  vault.failRequests(0);
  vault.grantAccess(identity.managedIdentity.objectId);
  if (vault.currentValue(app.secretName) !== app.secret) vault.setSecret(app.secretName, app.secret, { expiresOn: app.secretExpiresOn });
  exchange.configureTenant(app.tenantId, { smtpAuthDisabled: false });
  exchange.configureMailbox(app.mailbox, { smtpAuthDisabled: undefined, mailboxFull: false, dailyRecipientQuota: 10_000, otherClientSessions: 0 });
  exchange.registerServicePrincipal({ tenantId: app.tenantId, appId: app.clientId, objectId: app.servicePrincipalId });
  exchange.grantFullAccess(app.mailbox, app.clientId);
  exchange.grantSendAs(app.mailbox, app.sendAsAddress);
  exchange.setLimits({ maxSessionsPerMailbox: 3, messagesPerMinute: 30, minTokenLifetimeSeconds: 0 });
  exchange.resetUsage();
}

export const sandboxScenarios = {
  healthy: scenario('Everything set up as KB486942 asks: a send succeeds.', () => undefined),
  'smtp-auth-disabled': scenario('SMTP AUTH is disabled for the tenant: AUTH gets 535 5.7.139 ... disabled for the Tenant.', (s) =>
    s.exchange.configureTenant(s.app.tenantId, { smtpAuthDisabled: true }),
  ),
  'service-principal-not-registered': scenario('No New-ServicePrincipal in Exchange: AUTH gets 535 5.7.139 ... did not meet the criteria.', (s) =>
    s.exchange.removeServicePrincipal(s.app.tenantId, s.app.clientId),
  ),
  'missing-role': scenario('SMTP.SendAsApp not granted (or not consented): the token has no roles, AUTH gets 535 5.7.3.', (s) =>
    s.identity.updateApp(s.app.clientId, { roles: [] }),
  ),
  'graph-audience': scenario('Tokens come out for Microsoft Graph (the v1-endpoint pitfall): aud is wrong, AUTH gets 535 5.7.3.', (s) =>
    s.identity.updateApp(s.app.clientId, { audience: 'https://graph.microsoft.com' }),
  ),
  'send-as-denied': scenario('The mailbox lost Send As on the allowed sender billing@: a send from it gets 554 5.2.252 SendAsDenied.', (s) =>
    s.exchange.revokeSendAs(s.app.mailbox, s.app.sendAsAddress),
  ),
  'wrong-secret': scenario('The secret was rotated in Entra but not in the vault: the token request fails with AADSTS7000215.', (s) =>
    s.identity.updateApp(s.app.clientId, { secrets: [`rotated-${Date.now()}`] }),
  ),
  'expired-secret': scenario('The client secret passed its end date: the token request fails with AADSTS7000222.', (s) =>
    s.identity.updateApp(s.app.clientId, { secretExpired: true }),
  ),
  'secret-missing': scenario('The vault has no secret of that name: the read fails with 404 SecretNotFound.', (s) =>
    s.vault.deleteSecret(s.app.secretName),
  ),
  'vault-denied': scenario("The app's managed identity may not read secrets: the read fails with 403 Forbidden.", (s) =>
    s.vault.denyAccess(true),
  ),
  throttled: scenario("Other clients hold the mailbox's 3 concurrent sessions: MAIL FROM gets 432 4.3.2 sender thread limit exceeded.", (s) =>
    s.exchange.configureMailbox(s.app.mailbox, { otherClientSessions: s.exchange.limits.maxSessionsPerMailbox }),
  ),
  'mailbox-full': scenario("Sent Items filled the mailbox: DATA gets 554 5.2.2 mailbox full.", (s) =>
    s.exchange.configureMailbox(s.app.mailbox, { mailboxFull: true }),
  ),
} satisfies Record<string, SandboxScenario>;

export type SandboxScenarioName = keyof typeof sandboxScenarios;
