import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { readStorageConnection, type StorageConnection } from './storage-connection.js';

/** Exchange Online's own limits per mailbox: 30 messages a minute, 3 concurrent connections. */
const exchangeRatePerMinute = 30;
const exchangeMaxConnections = 3;
/** ... and 10,000 recipients in a rolling 24 hours. */
const exchangeRecipientsPerDay = 10_000;

const guidOrDomain = z
  .string()
  .regex(
    /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9-]+(\.[a-z0-9-]+)+)$/i,
    'must be a GUID or a domain name',
  );
const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const guid = z.string().regex(guidPattern, 'must be a GUID');

export const isGuid = (s: string) => guidPattern.test(s);
const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).transform((u) => u.replace(/\/+$/, ''));
const mailbox = z.email('must be an email address').transform((a) => a.toLowerCase());
const vaultObjectName = (what: string) => z.string().regex(/^[0-9a-zA-Z-]{1,127}$/, `must be ${what} (letters, digits, dashes)`);

/** How the app proves itself to Entra: a client secret or a certificate from Key Vault, or the Function App's managed identity. */
export const credentialKinds = ['secret', 'certificate', 'federated'] as const;
export type CredentialKind = (typeof credentialKinds)[number];

/** How a message leaves: SMTP AUTH XOAUTH2, Microsoft Graph sendMail with the same MIME, or SMTP with Graph where SMTP AUTH is off. */
export const transportKinds = ['smtp', 'graph', 'auto'] as const;
export type TransportKind = (typeof transportKinds)[number];

const positiveInt = (fallback: number) =>
  z.coerce.number('must be a number').int('must be a whole number').positive('must be greater than 0').default(fallback);

const positiveNumber = (fallback: number) => z.coerce.number('must be a number').positive('must be greater than 0').default(fallback);

const schema = z.object({
  EXOSEND_TENANT_ID: guidOrDomain,
  EXOSEND_CLIENT_ID: guid,
  EXOSEND_KEY_VAULT_URL: httpsUrl.optional(),
  EXOSEND_CREDENTIAL: z.enum(credentialKinds, 'must be "secret", "certificate" or "federated"').default('secret'),
  EXOSEND_CLIENT_SECRET_NAME: vaultObjectName('a Key Vault secret name').default('exosend-client-secret'),
  EXOSEND_CLIENT_CERTIFICATE_NAME: vaultObjectName('a Key Vault certificate name').default('exosend-client-certificate'),
  EXOSEND_FEDERATED_AUDIENCE: z.string().regex(/^\S+$/, 'must be an audience such as api://AzureADTokenExchange').default('api://AzureADTokenExchange'),
  EXOSEND_MAILBOX: mailbox,
  EXOSEND_ALLOWED_SENDERS: z
    .string()
    .optional()
    .transform((list) => (list ?? '').split(',').map((a) => a.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.email('must be a comma-separated list of email addresses'))),
  EXOSEND_ROLES_MODE: z.enum(['entra', 'rbac'], 'must be "entra" or "rbac"').default('entra'),
  EXOSEND_SMTP_HOST: z.string().min(1).default('smtp.office365.com'),
  EXOSEND_SMTP_PORT: z.coerce.number('must be a TCP port').int('must be a TCP port').min(1, 'must be a TCP port').max(65535, 'must be a TCP port').default(587),
  EXOSEND_SCOPE: z
    .string()
    .regex(/^https:\/\/\S+\/\.default$/, 'must be a resource followed by /.default')
    .default('https://outlook.office365.com/.default'),
  EXOSEND_TRANSPORT: z.enum(transportKinds, 'must be "smtp", "graph" or "auto"').default('smtp'),
  EXOSEND_GRAPH_ENDPOINT: httpsUrl.default('https://graph.microsoft.com'),
  EXOSEND_RATE_PER_MINUTE: positiveInt(exchangeRatePerMinute),
  EXOSEND_MAX_CONNECTIONS: positiveInt(exchangeMaxConnections),
  EXOSEND_MAILBOXES: z
    .string()
    .optional()
    .transform((list) => (list ?? '').split(',').map((a) => a.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.email('must be a comma-separated list of email addresses'))),
  EXOSEND_RECIPIENTS_PER_DAY: positiveInt(exchangeRecipientsPerDay),
  EXOSEND_RATE_WINDOW_SECONDS: positiveNumber(60),
  EXOSEND_DAY_WINDOW_SECONDS: positiveNumber(24 * 60 * 60),
  EXOSEND_LEASE_SECONDS: positiveNumber(60),
  EXOSEND_QUEUE: z
    .string()
    .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,55}[a-z0-9]$/, 'must be a storage queue name (3-57 lowercase letters, digits, dashes)')
    .default('outbound-mail'),
  EXOSEND_QUEUE_MAX_ATTEMPTS: positiveInt(8),
  EXOSEND_QUEUE_RETRY_BASE_SECONDS: z.coerce.number('must be a number').int('must be a whole number').min(0, 'must be 0 or more').default(30),
  EXOSEND_HEALTH_SCHEDULE: z.string().min(1).default('0 */5 * * * *'),
  EXOSEND_HEALTH_TO: z.email('must be an email address').optional(),
  AZURE_AUTHORITY_HOST: httpsUrl.default('https://login.microsoftonline.com'),
  AZURE_CLIENT_ID: z.string().optional(),
  // set by App Service on every worker: they fill the Function App's name into a fix
  WEBSITE_SITE_NAME: z.string().optional(),
  WEBSITE_RESOURCE_GROUP: z.string().optional(),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().optional(),
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: z
    .string()
    .optional()
    .transform((value, context) => {
      if (value === undefined) return undefined;
      const parsed = parseTelemetryAuthentication(value);
      if (!parsed) context.addIssue({ code: 'custom', message: 'must be "Authorization=AAD" or "Authorization=AAD;ClientId=<GUID>"' });
      return parsed;
    }),
});

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
  healthSchedule: string;
  healthTo: string | undefined;
  authorityHost: string;
  /** A user-assigned managed identity that reads the vault; undefined means system-assigned. */
  managedIdentityClientId: string | undefined;
  /** AzureWebJobsStorage as a connection string, or by identity as the Functions host reads it; undefined when unset. */
  storage: StorageConnection | undefined;
  /** The Function App and its resource group, as App Service states them; undefined outside Azure. */
  functionAppName: string | undefined;
  resourceGroup: string | undefined;
  appInsightsConnectionString: string | undefined;
  /** APPLICATIONINSIGHTS_AUTHENTICATION_STRING's ClientId: telemetry goes with that identity's Entra token. */
  telemetryAuthentication: TelemetryAuthentication | undefined;
}

/** `Authorization=AAD` (system-assigned identity) or `Authorization=AAD;ClientId=<id>` (user-assigned). */
export interface TelemetryAuthentication {
  clientId: string | undefined;
}

type Environment = Record<string, string | undefined>;

export function loadConfig(env: Environment = process.env): ExosendConfig {
  const blankAsUnset = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = schema.safeParse(blankAsUnset);
  // every kind but `federated` reads the vault: its URL is required unless the credential says otherwise
  const vaultNeeded = blankAsUnset['EXOSEND_CREDENTIAL'] !== 'federated' && !('EXOSEND_KEY_VAULT_URL' in blankAsUnset);
  const vaultProblem = vaultNeeded ? [{ variable: 'EXOSEND_KEY_VAULT_URL', message: 'is required' }] : [];
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      variable: String(issue.path[0]),
      message: String(issue.path[0]) in blankAsUnset ? issue.message : 'is required',
    }));
    // in the schema's order, as before the vault's URL became conditional
    const position = (variable: string) => Object.keys(schema.shape).indexOf(variable);
    throw new ConfigError([...problems, ...vaultProblem].sort((a, b) => position(a.variable) - position(b.variable)));
  }
  if (vaultProblem.length > 0) throw new ConfigError(vaultProblem);
  const s = parsed.data;
  return {
    tenantId: s.EXOSEND_TENANT_ID,
    clientId: s.EXOSEND_CLIENT_ID,
    keyVaultUrl: s.EXOSEND_KEY_VAULT_URL,
    credential: s.EXOSEND_CREDENTIAL,
    clientSecretName: s.EXOSEND_CLIENT_SECRET_NAME,
    clientCertificateName: s.EXOSEND_CLIENT_CERTIFICATE_NAME,
    federatedAudience: s.EXOSEND_FEDERATED_AUDIENCE,
    mailbox: s.EXOSEND_MAILBOX,
    allowedSenders: [...new Set([...(s.EXOSEND_ALLOWED_SENDERS.length > 0 ? s.EXOSEND_ALLOWED_SENDERS : [s.EXOSEND_MAILBOX]), ...s.EXOSEND_MAILBOXES])],
    rolesMode: s.EXOSEND_ROLES_MODE,
    smtp: { host: s.EXOSEND_SMTP_HOST, port: s.EXOSEND_SMTP_PORT },
    scope: s.EXOSEND_SCOPE,
    transport: s.EXOSEND_TRANSPORT,
    graphEndpoint: s.EXOSEND_GRAPH_ENDPOINT,
    ratePerMinute: s.EXOSEND_RATE_PER_MINUTE,
    maxConnections: s.EXOSEND_MAX_CONNECTIONS,
    mailboxes: [...new Set([s.EXOSEND_MAILBOX, ...s.EXOSEND_MAILBOXES])],
    recipientsPerDay: s.EXOSEND_RECIPIENTS_PER_DAY,
    rateWindowInMs: Math.round(s.EXOSEND_RATE_WINDOW_SECONDS * 1000),
    dayWindowInMs: Math.round(s.EXOSEND_DAY_WINDOW_SECONDS * 1000),
    leaseTtlInMs: Math.round(s.EXOSEND_LEASE_SECONDS * 1000),
    queue: s.EXOSEND_QUEUE,
    queueMaxAttempts: s.EXOSEND_QUEUE_MAX_ATTEMPTS,
    queueRetryBaseSeconds: s.EXOSEND_QUEUE_RETRY_BASE_SECONDS,
    healthSchedule: s.EXOSEND_HEALTH_SCHEDULE,
    healthTo: s.EXOSEND_HEALTH_TO,
    authorityHost: s.AZURE_AUTHORITY_HOST,
    managedIdentityClientId: s.AZURE_CLIENT_ID,
    storage: readStorageConnection(blankAsUnset),
    functionAppName: s.WEBSITE_SITE_NAME,
    resourceGroup: s.WEBSITE_RESOURCE_GROUP,
    appInsightsConnectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
    telemetryAuthentication: s.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
  };
}

/**
 * Parses APPLICATIONINSIGHTS_AUTHENTICATION_STRING as the Azure Monitor exporters do:
 * `;`-separated `key=value` pairs, names without regard to case, `Authorization=AAD` required.
 */
export function parseTelemetryAuthentication(value: string): TelemetryAuthentication | undefined {
  const pairs = new Map(
    value
      .split(';')
      .map((pair) => pair.trim())
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        return [pair.slice(0, at).trim().toLowerCase(), at < 0 ? '' : pair.slice(at + 1).trim()] as const;
      }),
  );
  if (pairs.get('authorization')?.toLowerCase() !== 'aad') return undefined;
  const clientId = pairs.get('clientid') || undefined;
  if (clientId !== undefined && !guidPattern.test(clientId)) return undefined;
  return { clientId };
}

/**
 * A setting the Functions host needs when it indexes the app (a queue name, a schedule): its value,
 * or its documented default. A binding's `%SETTING%` would fail for an unset one, defaults and all.
 */
export function bindingSetting(name: 'EXOSEND_QUEUE' | 'EXOSEND_HEALTH_SCHEDULE', env: Environment = process.env): string {
  const value = env[name]?.trim() || undefined;
  const parsed = schema.shape[name].safeParse(value);
  if (!parsed.success) throw new ConfigError([{ variable: name, message: parsed.error.issues[0]?.message ?? 'is invalid' }]);
  return parsed.data;
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
