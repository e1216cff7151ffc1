import { randomInt, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { startAppInsightsStandIn } from './app-insights.js';
import { startExchangeStandIn } from './exchange.js';
import { startIdentityStandIn } from './identity.js';
import { startKeyVaultStandIn } from './key-vault.js';
import { issueClientCertificate, issueServerCertificate, loadOrCreateCertificateAuthority } from './pki.js';
import type { Sandbox, SandboxApp } from './sandbox.js';
import { registerCallerApps } from './caller-apps.js';
import { startGraphStandIn } from './graph.js';
import type { AcceptedMessage } from './exchange.js';
import { DeliveryReports } from './delivery-reports.js';
import { MailboxInboxes } from './inbox.js';
import { sandboxScenarios } from './scenarios.js';

export {
  credentialSettings,
  sandboxScenarios,
  scenarioSettings,
  storeCertificate,
  type SandboxScenario,
  type SandboxScenarioName,
} from './scenarios.js';
export type { Sandbox, SandboxApp } from './sandbox.js';
export type {
  ExchangeStandIn,
  AcceptedMessage,
  ExchangeLimits,
  FaultContext,
  FaultStage,
  SmtpFault,
} from './exchange.js';
export type { IdentityStandIn } from './identity.js';
export type { CallerApp, CallerApps } from './caller-apps.js';
export type { GraphStandIn, GraphFault } from './graph.js';
export type { KeyVaultStandIn } from './key-vault.js';
export type { AppInsightsStandIn, TelemetryEnvelope } from './app-insights.js';

export interface SandboxOptions {
  /** Where the CA lives (`ca.pem`, `ca-key.pem`); trust it with NODE_EXTRA_CA_CERTS=<dir>/ca.pem. */
  dir?: string;
  /** Accepted messages are also written there as .eml files. */
  outboxDir?: string;
}

/** Shaped like an Entra client secret value: three characters, "8Q~", then 34 more. */
function entraStyleSecret(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-';
  const pick = (n: number) => Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join('');
  return `${pick(3)}8Q~${pick(34)}`;
}

/** Identity platform, Key Vault and Exchange on loopback, set up as KB486942 asks. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const ca = await loadOrCreateCertificateAuthority(options.dir ?? join('.exosend', 'sandbox'));
  const tls = issueServerCertificate(ca);
  const tenantId = randomUUID();
  const started: { close(): Promise<void> }[] = [];
  try {
    const identity = await startIdentityStandIn({ tls, tenantId });
    started.push(identity);
    const vault = await startKeyVaultStandIn({ tls, identity, tenantId });
    started.push(vault);
    const exchange = await startExchangeStandIn({
      tls,
      identity,
      ...(options.outboxDir ? { outboxDir: options.outboxDir } : {}),
    });
    started.push(exchange);
    const inboxes = new MailboxInboxes();
    const graph = await startGraphStandIn({ tls, identity, exchange, inboxes });
    started.push(graph);
    const appInsights = await startAppInsightsStandIn({ tls, verifier: identity });
    started.push(appInsights);

    const federatedIdentity = identity.addUserAssignedIdentity('exosend-federated');
    const app: SandboxApp = {
      tenantId,
      tenantDomain: 'contoso.example',
      clientId: randomUUID(),
      servicePrincipalId: randomUUID(),
      mailbox: 'exosend@contoso.example',
      sendAsAddress: 'billing@contoso.example',
      secondMailbox: 'sales@contoso.example',
      secret: entraStyleSecret(),
      secretName: 'exosend-client-secret',
      secretExpiresOn: new Date(Date.now() + 180 * 24 * 60 * 60 * 1000),
      certificate: issueClientCertificate({ subject: 'exosend' }),
      certificateName: 'exosend-client-certificate',
      federatedIdentity: { clientId: federatedIdentity.clientId, objectId: federatedIdentity.objectId },
      unassignedIdentityClientId: identity.addUserAssignedIdentity('exosend-elsewhere', { assigned: false }).clientId,
      federation: {
        issuer: `https://login.microsoftonline.com/${tenantId}/v2.0`,
        subject: federatedIdentity.objectId,
        audience: 'api://AzureADTokenExchange',
      },
    };
    identity.registerTenant({ tenantId, domain: app.tenantDomain });
    identity.registerApp({
      clientId: app.clientId,
      tenantId,
      secrets: [app.secret],
      roles: ['SMTP.SendAsApp'],
      graphRoles: ['Mail.Send', 'Mail.ReadWrite', 'Mail.Read'],
      servicePrincipalId: app.servicePrincipalId,
      displayName: 'exosend',
    });
    exchange.addMailbox(app.mailbox, { tenantId });
    exchange.addMailbox(app.secondMailbox, { tenantId });
    const callers = registerCallerApps(identity, tenantId);
    // Exchange's delivery reports land in the sending mailbox's Inbox a moment after the accept
    const reports = new DeliveryReports({
      inboxes,
      hostname: exchange.hostname,
      postmaster: `postmaster@${app.tenantDomain.split('.')[0]}.onmicrosoft.example`,
    });
    exchange.events.on('message', (message: AcceptedMessage) => reports.onAccepted(message));
    started.push({ close: () => Promise.resolve(reports.close()) });

    const sandbox: Sandbox = {
      ca: { certPem: ca.certPem, path: ca.path },
      identity,
      vault,
      exchange,
      graph,
      inboxes,
      reports,
      appInsights,
      app,
      callers,
      settings: {
        EXOSEND_TENANT_ID: tenantId,
        EXOSEND_CLIENT_ID: app.clientId,
        EXOSEND_KEY_VAULT_URL: vault.url,
        EXOSEND_CLIENT_SECRET_NAME: app.secretName,
        EXOSEND_MAILBOX: app.mailbox,
        EXOSEND_ALLOWED_SENDERS: `${app.mailbox},${app.sendAsAddress}`,
        EXOSEND_SMTP_HOST: exchange.host,
        EXOSEND_SMTP_PORT: String(exchange.port),
        EXOSEND_GRAPH_ENDPOINT: graph.url,
        // the Inbox read every 10 s, so that a bounce shows on the outbox a moment after the send
        EXOSEND_DELIVERY_SCHEDULE: '*/10 * * * * *',
        EXOSEND_RATE_PER_MINUTE: String(exchange.limits.messagesPerMinute),
        EXOSEND_MAX_CONNECTIONS: String(exchange.limits.maxSessionsPerMailbox),
        AZURE_AUTHORITY_HOST: identity.authorityHost,
        IDENTITY_ENDPOINT: identity.managedIdentity.endpoint,
        IDENTITY_HEADER: identity.managedIdentity.header,
        // read only with EXOSEND_CALLER_AUTH=entra or both
        EXOSEND_API_AUDIENCE: `${callers.api.appIdUri},${callers.api.clientId}`,
      },
      knownSecrets: () => [
        ...identity.knownSecrets(),
        ...vault.knownSecrets(),
        ...[callers.sample, callers.other, callers.unregistered, callers.roleless].map((c) => c.secret),
      ],
      close: async () => {
        await Promise.allSettled(started.map((s) => s.close()));
      },
    };
    sandboxScenarios.healthy(sandbox);
    return sandbox;
  } catch (error) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw error;
  }
}
