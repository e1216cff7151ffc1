import { randomInt, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { startAppInsightsStandIn, type AppInsightsStandIn } from './app-insights.js';
import { startExchangeStandIn, type ExchangeStandIn } from './exchange.js';
import { startGraphStandIn, type GraphStandIn } from './graph.js';
import { startIdentityStandIn, type IdentityStandIn } from './identity.js';
import { startKeyVaultStandIn, type KeyVaultStandIn } from './key-vault.js';
import { issueClientCertificate, issueServerCertificate, loadOrCreateCertificateAuthority, type ClientCertificate } from './pki.js';
import { sandboxScenarios } from './scenarios.js';

export { credentialSettings, sandboxScenarios, scenarioSettings, storeCertificate, type SandboxScenario, type SandboxScenarioName } from './scenarios.js';
export type { ExchangeStandIn, AcceptedMessage, ExchangeLimits, FaultContext, FaultStage, SmtpFault } from './exchange.js';
export type { IdentityStandIn } from './identity.js';
export type { GraphStandIn, GraphFault } from './graph.js';
export type { KeyVaultStandIn } from './key-vault.js';
export type { AppInsightsStandIn, TelemetryEnvelope } from './app-insights.js';

export interface SandboxOptions {
  /** Where the CA lives (`ca.pem`, `ca-key.pem`); trust it with NODE_EXTRA_CA_CERTS=<dir>/ca.pem. */
  dir?: string;
  /** Accepted messages are also written there as .eml files. */
  outboxDir?: string;
}

export interface SandboxApp {
  tenantId: string;
  tenantDomain: string;
  clientId: string;
  servicePrincipalId: string;
  /** Authenticates (user=) and is the default From. */
  mailbox: string;
  /** A second allowed sender the mailbox has Send As on. */
  sendAsAddress: string;
  /** A second mailbox the app has FullAccess on: list it in EXOSEND_MAILBOXES to send as it. */
  secondMailbox: string;
  secret: string;
  secretName: string;
  secretExpiresOn: Date;
  /** The app's certificate (EXOSEND_CREDENTIAL=certificate): its public part is registered on the app, the whole of it is in the vault. */
  certificate: ClientCertificate;
  certificateName: string;
  /** The Function App's user-assigned identity, a federated credential of the app (EXOSEND_CREDENTIAL=federated). */
  federatedIdentity: { clientId: string; objectId: string };
  /** A user-assigned identity that exists in the tenant but is not assigned to the Function App. */
  unassignedIdentityClientId: string;
  /** The federated identity credential the app registration holds for it. */
  federation: { issuer: string; subject: string; audience: string };
}


export interface Sandbox {
  ca: { certPem: string; path: string };
  identity: IdentityStandIn;
  vault: KeyVaultStandIn;
  exchange: ExchangeStandIn;
  /** Microsoft Graph's sendMail, in front of the same mailboxes and outbox as Exchange. */
  graph: GraphStandIn;
  /** Application Insights ingestion; telemetry is on only for a run given its `connectionString` (not in `settings`). */
  appInsights: AppInsightsStandIn;
  app: SandboxApp;
  /** The app settings (environment) that point exosend at the stand-ins. */
  settings: Record<string, string>;
  /** Secrets and tokens the stand-ins handed out: none may appear in the app's output. */
  knownSecrets(): string[];
  close(): Promise<void>;
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
    const exchange = await startExchangeStandIn({ tls, identity, ...(options.outboxDir ? { outboxDir: options.outboxDir } : {}) });
    started.push(exchange);
    const graph = await startGraphStandIn({ tls, identity, exchange });
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
      federation: { issuer: `https://login.microsoftonline.com/${tenantId}/v2.0`, subject: federatedIdentity.objectId, audience: 'api://AzureADTokenExchange' },
    };
    identity.registerTenant({ tenantId, domain: app.tenantDomain });
    identity.registerApp({
      clientId: app.clientId,
      tenantId,
      secrets: [app.secret],
      roles: ['SMTP.SendAsApp'],
      graphRoles: ['Mail.Send'],
      servicePrincipalId: app.servicePrincipalId,
      displayName: 'exosend',
    });
    exchange.addMailbox(app.mailbox, { tenantId });
    exchange.addMailbox(app.secondMailbox, { tenantId });

    const sandbox: Sandbox = {
      ca: { certPem: ca.certPem, path: ca.path },
      identity,
      vault,
      exchange,
      graph,
      appInsights,
      app,
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
        EXOSEND_RATE_PER_MINUTE: String(exchange.limits.messagesPerMinute),
        EXOSEND_MAX_CONNECTIONS: String(exchange.limits.maxSessionsPerMailbox),
        AZURE_AUTHORITY_HOST: identity.authorityHost,
        IDENTITY_ENDPOINT: identity.managedIdentity.endpoint,
        IDENTITY_HEADER: identity.managedIdentity.header,
      },
      knownSecrets: () => [...identity.knownSecrets(), ...vault.knownSecrets()],
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
