import type { AppInsightsStandIn } from './app-insights.js';
import type { CallerApps } from './caller-apps.js';
import type { ExchangeStandIn } from './exchange.js';
import type { DeliveryReports } from './delivery-reports.js';
import type { GraphStandIn } from './graph.js';
import type { MailboxInboxes } from './inbox.js';
import type { IdentityStandIn } from './identity.js';
import type { KeyVaultStandIn } from './key-vault.js';
import type { ClientCertificate } from './pki.js';

// The sandbox's shape, apart from index.ts that starts it, so that the scenarios can name it
// without importing the file that imports them.

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
  /** Each mailbox's Inbox, which Graph serves (delta, `$value`) and Exchange drops reports into. */
  inboxes: MailboxInboxes;
  /** Exchange's delivery reports for nobody@, full@, quarantine@ and delay@ (local/sandbox/delivery-reports.ts). */
  reports: DeliveryReports;
  /** Application Insights ingestion; telemetry is on only for a run given its `connectionString` (not in `settings`). */
  appInsights: AppInsightsStandIn;
  app: SandboxApp;
  /** exosend's API registration and the apps that call it with Entra tokens (EXOSEND_CALLER_AUTH=entra). */
  callers: CallerApps;
  /** The app settings (environment) that point exosend at the stand-ins. */
  settings: Record<string, string>;
  /** Secrets and tokens the stand-ins handed out: none may appear in the app's output. */
  knownSecrets(): string[];
  close(): Promise<void>;
}
