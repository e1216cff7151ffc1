import type { z } from 'zod';
import { ConfigError } from './config-error.js';
import { settings, type Setting, type SettingName } from './settings.js';
import { readStorageConnection, type StorageConnection } from './storage-connection.js';

// their home is the table's file; re-exported where their importers have always found them
export {
  credentialKinds,
  isGuid,
  parseTelemetryAuthentication,
  transportKinds,
  type CredentialKind,
  type TelemetryAuthentication,
  type TransportKind,
} from './settings.js';
import type { CredentialKind, TransportKind } from './settings.js';

/** The typed settings every module reads, assembled from the table's values (settings.ts). */
export interface ExosendConfig {
  tenantId: string;
  clientId: string;
  /** The vault that holds the secret or the certificate; undefined only for `federated`, which reads no vault. */
  keyVaultUrl: string | undefined;
  credential: CredentialKind;
  clientSecretName: string;
  clientCertificateName: string;
  /** Audience of the managed identity's token that `federated` presents as its client assertion. */
  federatedAudience: string;
  mailbox: string;
  /** Lower-cased From addresses callers may use; never empty (the mailbox at least). */
  allowedSenders: readonly string[];
  rolesMode: 'entra' | 'rbac';
  smtp: { host: string; port: number };
  scope: string;
  /** EXOSEND_TRANSPORT: `smtp` (default), `graph`, or `auto` (SMTP, and Graph for a mailbox where SMTP AUTH is off or unreachable). */
  transport: TransportKind;
  /** Microsoft Graph's address, without a trailing slash (a stand-in, a national cloud). */
  graphEndpoint: string;
  ratePerMinute: number;
  maxConnections: number;
  /**
   * Every mailbox exosend authenticates as, lower-cased, EXOSEND_MAILBOX first: a From that is one
   * of them authenticates as itself, with its own budget and its own Sent Items.
   */
  mailboxes: readonly string[];
  /** Recipients (To, Cc, Bcc) per mailbox in a rolling day. */
  recipientsPerDay: number;
  /** The windows Exchange counts: 60 s and 24 h; shorter only in tests and the bench. */
  rateWindowInMs: number;
  dayWindowInMs: number;
  /** A crashed instance's SMTP sessions come back within this; its message slots within five times it plus a window. */
  leaseTtlInMs: number;
  queue: string;
  /** Tries a queued message gets for transient failures before it is dead-lettered. */
  queueMaxAttempts: number;
  /** First delay before a transient failure is retried from the queue; it doubles with each try. */
  queueRetryBaseSeconds: number;
  healthTo: string | undefined;
  authorityHost: string;
  /** A user-assigned managed identity that reads the vault; undefined means system-assigned. */
  managedIdentityClientId: string | undefined;
  /** AzureWebJobsStorage as a connection string, or by identity as the Functions host reads it; undefined when unset. */
  storage: StorageConnection | undefined;
  /** The Function App and its resource group, as App Service states them; undefined outside Azure. */
  functionAppName: string | undefined;
  resourceGroup: string | undefined;
}

type Environment = Record<string, string | undefined>;
type Problem = { variable: string; message: string };

/** Each setting's parsed value; undefined for one that is unset and has no default value. */
type Values = {
  [Name in SettingName]: (typeof settings)[Name] extends { unset: { means: string } }
    ? z.output<(typeof settings)[Name]['parse']> | undefined
    : z.output<(typeof settings)[Name]['parse']>;
};

/** One setting as the table says: a required one named when unset, a default parsed as if it had been set. */
function readSetting(variable: SettingName, raw: string | undefined): { value: unknown } | { problems: Problem[] } {
  const { parse, unset }: Setting = settings[variable];
  let input = raw;
  if (input === undefined) {
    if (unset === 'required') return { problems: [{ variable, message: 'is required' }] };
    if ('means' in unset) return { value: undefined };
    input = unset.value;
  }
  const parsed = parse.safeParse(input);
  return parsed.success
    ? { value: parsed.data }
    : { problems: parsed.error.issues.map((issue) => ({ variable, message: issue.message })) };
}

export function loadConfig(env: Environment = process.env): ExosendConfig {
  const blankAsUnset = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const values: Partial<Record<SettingName, unknown>> = {};
  const problems: Problem[] = [];
  for (const variable of Object.keys(settings) as SettingName[]) {
    const read = readSetting(variable, blankAsUnset[variable]);
    if ('problems' in read) problems.push(...read.problems);
    else values[variable] = read.value;
  }
  // every kind but `federated` reads the vault: its URL is required unless the credential says otherwise
  if (blankAsUnset['EXOSEND_CREDENTIAL'] !== 'federated' && !('EXOSEND_KEY_VAULT_URL' in blankAsUnset)) {
    problems.push({ variable: 'EXOSEND_KEY_VAULT_URL', message: 'is required' });
  }
  // in the table's order
  const position = (variable: string) => Object.keys(settings).indexOf(variable);
  if (problems.length > 0) throw new ConfigError(problems.sort((a, b) => position(a.variable) - position(b.variable)));
  const s = values as Values;
  const allowedSenders = s.EXOSEND_ALLOWED_SENDERS ?? [];
  const mailboxes = s.EXOSEND_MAILBOXES ?? [];
  return {
    tenantId: s.EXOSEND_TENANT_ID,
    clientId: s.EXOSEND_CLIENT_ID,
    keyVaultUrl: s.EXOSEND_KEY_VAULT_URL,
    credential: s.EXOSEND_CREDENTIAL,
    clientSecretName: s.EXOSEND_CLIENT_SECRET_NAME,
    clientCertificateName: s.EXOSEND_CLIENT_CERTIFICATE_NAME,
    federatedAudience: s.EXOSEND_FEDERATED_AUDIENCE,
    mailbox: s.EXOSEND_MAILBOX,
    allowedSenders: [...new Set([...(allowedSenders.length > 0 ? allowedSenders : [s.EXOSEND_MAILBOX]), ...mailboxes])],
    rolesMode: s.EXOSEND_ROLES_MODE,
    smtp: { host: s.EXOSEND_SMTP_HOST, port: s.EXOSEND_SMTP_PORT },
    scope: s.EXOSEND_SCOPE,
    transport: s.EXOSEND_TRANSPORT,
    graphEndpoint: s.EXOSEND_GRAPH_ENDPOINT,
    ratePerMinute: s.EXOSEND_RATE_PER_MINUTE,
    maxConnections: s.EXOSEND_MAX_CONNECTIONS,
    mailboxes: [...new Set([s.EXOSEND_MAILBOX, ...mailboxes])],
    recipientsPerDay: s.EXOSEND_RECIPIENTS_PER_DAY,
    rateWindowInMs: Math.round(s.EXOSEND_RATE_WINDOW_SECONDS * 1000),
    dayWindowInMs: Math.round(s.EXOSEND_DAY_WINDOW_SECONDS * 1000),
    leaseTtlInMs: Math.round(s.EXOSEND_LEASE_SECONDS * 1000),
    queue: s.EXOSEND_QUEUE,
    queueMaxAttempts: s.EXOSEND_QUEUE_MAX_ATTEMPTS,
    queueRetryBaseSeconds: s.EXOSEND_QUEUE_RETRY_BASE_SECONDS,
    healthTo: s.EXOSEND_HEALTH_TO,
    authorityHost: s.AZURE_AUTHORITY_HOST,
    managedIdentityClientId: s.AZURE_CLIENT_ID,
    storage: readStorageConnection(blankAsUnset),
    functionAppName: s.WEBSITE_SITE_NAME,
    resourceGroup: s.WEBSITE_RESOURCE_GROUP,
  };
}

/**
 * A setting the Functions host needs when it indexes the app (a queue name, a schedule): its value,
 * or its documented default. A binding's `%SETTING%` would fail for an unset one, defaults and all.
 */
export function bindingSetting(
  name: 'EXOSEND_QUEUE' | 'EXOSEND_HEALTH_SCHEDULE',
  env: Environment = process.env,
): string {
  const read = readSetting(name, env[name]?.trim() || undefined);
  if ('problems' in read) throw new ConfigError(read.problems.slice(0, 1));
  return read.value as string;
}

/** Whether the authority is Microsoft's own cloud, where MSAL's instance discovery works. */
export function isMicrosoftAuthority(authorityHost: string): boolean {
  const host = new URL(authorityHost).hostname;
  return /(^|\.)(microsoftonline\.(com|us|de)|chinacloudapi\.cn|microsoftonline\.cn)$/i.test(host);
}

/** Whether the vault is in one of Azure's vault domains, where the challenge resource can be verified. */
export function isAzureVault(vaultUrl: string): boolean {
  const host = new URL(vaultUrl).hostname;
  return /\.vault\.(azure\.net|azure\.cn|usgovcloudapi\.net|microsoftazure\.de)$|\.managedhsm\.azure\.net$/i.test(host);
}
