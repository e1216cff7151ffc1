import { z } from 'zod';

/**
 * Every setting the configuration reads, once: its variable, how its value is parsed, what an unset
 * one means, and what it is for. loadConfig (load-config.ts) and bindingSetting read this table, and
 * so do their errors; docs/settings.md shows the same defaults (test/settings.test.ts holds the two
 * together). A setting read by some other module is listed in settingsReadElsewhere below.
 */

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
const httpsUrl = z
  .url({ protocol: /^https$/, error: 'must be an https:// URL' })
  .transform((u) => u.replace(/\/+$/, ''));
const mailbox = z.email('must be an email address').transform((a) => a.toLowerCase());
const vaultObjectName = (what: string) =>
  z.string().regex(/^[0-9a-zA-Z-]{1,127}$/, `must be ${what} (letters, digits, dashes)`);
const addressList = z
  .string()
  .transform((list) =>
    list
      .split(',')
      .map((a) => a.trim().toLowerCase())
      .filter(Boolean),
  )
  .pipe(z.array(z.email('must be a comma-separated list of email addresses')));

/** How the app proves itself to Entra: a client secret or a certificate from Key Vault, or the Function App's managed identity. */
export const credentialKinds = ['secret', 'certificate', 'federated'] as const;
export type CredentialKind = (typeof credentialKinds)[number];

/** How a message leaves: SMTP AUTH XOAUTH2, Microsoft Graph sendMail with the same MIME, or SMTP with Graph where SMTP AUTH is off. */
export const transportKinds = ['smtp', 'graph', 'auto'] as const;
export type TransportKind = (typeof transportKinds)[number];

const positiveInt = z.coerce
  .number('must be a number')
  .int('must be a whole number')
  .positive('must be greater than 0');
const positiveNumber = z.coerce.number('must be a number').positive('must be greater than 0');
const seconds = z.coerce.number('must be a number').int('must be a whole number').min(0, 'must be 0 or more');

/** `Authorization=AAD` (system-assigned identity) or `Authorization=AAD;ClientId=<id>` (user-assigned). */
export interface TelemetryAuthentication {
  clientId: string | undefined;
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
 * What an unset (or blank) variable means: `required`; a value, parsed as if it had been set (the
 * doc shows it in backticks); or, when the variable's value is simply absent, the doc's words for
 * what that means (the loader gets undefined and decides).
 */
export type WhenUnset = 'required' | { value: string } | { means: string };

export interface Setting<Output = unknown> {
  /** The value as set (never blank): its parse, and the message of a bad one, which never repeats the value. */
  parse: z.ZodType<Output>;
  unset: WhenUnset;
  /** One line: what the setting is for. docs/settings.md says it at length. */
  meaning: string;
}

const required = <Output>(parse: z.ZodType<Output>, meaning: string) => ({
  parse,
  unset: 'required' as const,
  meaning,
});
const byDefault = <Output>(parse: z.ZodType<Output>, value: string, meaning: string) => ({
  parse,
  unset: { value },
  meaning,
});
const optional = <Output>(parse: z.ZodType<Output>, means: string, meaning: string) => ({
  parse,
  unset: { means },
  meaning,
});

/** The table, in the order errors list their variables. */
export const settings = {
  EXOSEND_TENANT_ID: required(guidOrDomain, 'Entra tenant (GUID or domain)'),
  EXOSEND_CLIENT_ID: required(guid, 'application (client) ID of the app registration'),
  // required unless EXOSEND_CREDENTIAL is `federated`: loadConfig checks that across the two
  EXOSEND_KEY_VAULT_URL: optional(
    httpsUrl,
    'required, except for `federated`',
    'vault holding the client secret or certificate',
  ),
  EXOSEND_CREDENTIAL: byDefault(
    z.enum(credentialKinds, 'must be "secret", "certificate" or "federated"'),
    'secret',
    'how the app proves itself to Entra',
  ),
  EXOSEND_CLIENT_SECRET_NAME: byDefault(
    vaultObjectName('a Key Vault secret name'),
    'exosend-client-secret',
    'name of the secret in the vault (`secret`)',
  ),
  EXOSEND_CLIENT_CERTIFICATE_NAME: byDefault(
    vaultObjectName('a Key Vault certificate name'),
    'exosend-client-certificate',
    'name of the Key Vault certificate (`certificate`)',
  ),
  EXOSEND_FEDERATED_AUDIENCE: byDefault(
    z.string().regex(/^\S+$/, 'must be an audience such as api://AzureADTokenExchange'),
    'api://AzureADTokenExchange',
    "audience of the managed identity's token presented as the client assertion (`federated`)",
  ),
  EXOSEND_MAILBOX: required(mailbox, 'mailbox that authenticates (`user=`) and default From'),
  EXOSEND_ALLOWED_SENDERS: optional(addressList, 'the mailbox only', 'comma list of From addresses callers may use'),
  EXOSEND_ROLES_MODE: byDefault(
    z.enum(['entra', 'rbac'], 'must be "entra" or "rbac"'),
    'entra',
    '`entra` (token holds SMTP.SendAsApp) or `rbac` (Exchange RBAC for Applications)',
  ),
  EXOSEND_SMTP_HOST: byDefault(z.string().min(1), 'smtp.office365.com', 'submission endpoint: host'),
  EXOSEND_SMTP_PORT: byDefault(
    z.coerce
      .number('must be a TCP port')
      .int('must be a TCP port')
      .min(1, 'must be a TCP port')
      .max(65535, 'must be a TCP port'),
    '587',
    'submission endpoint: port',
  ),
  EXOSEND_SCOPE: byDefault(
    z.string().regex(/^https:\/\/\S+\/\.default$/, 'must be a resource followed by /.default'),
    'https://outlook.office365.com/.default',
    'token scope',
  ),
  EXOSEND_TRANSPORT: byDefault(
    z.enum(transportKinds, 'must be "smtp", "graph" or "auto"'),
    'smtp',
    'how mail leaves: SMTP AUTH, Microsoft Graph sendMail, or SMTP with Graph where SMTP AUTH is off',
  ),
  EXOSEND_GRAPH_ENDPOINT: byDefault(
    httpsUrl,
    'https://graph.microsoft.com',
    "Microsoft Graph's address (a national cloud, a stand-in)",
  ),
  EXOSEND_RATE_PER_MINUTE: byDefault(
    positiveInt,
    String(exchangeRatePerMinute),
    'messages a minute per mailbox, across every instance',
  ),
  EXOSEND_MAX_CONNECTIONS: byDefault(
    positiveInt,
    String(exchangeMaxConnections),
    'SMTP connections per mailbox, across every instance',
  ),
  EXOSEND_MAILBOXES: optional(
    addressList,
    'none beyond `EXOSEND_MAILBOX`',
    'further mailboxes exosend authenticates as, each with its own budget',
  ),
  EXOSEND_RECIPIENTS_PER_DAY: byDefault(
    positiveInt,
    String(exchangeRecipientsPerDay),
    'recipients per mailbox in a rolling day, across every instance',
  ),
  EXOSEND_RATE_WINDOW_SECONDS: byDefault(
    positiveNumber,
    '60',
    'the window the minute is counted over (shorter only in tests and the bench)',
  ),
  EXOSEND_DAY_WINDOW_SECONDS: byDefault(
    positiveNumber,
    String(24 * 60 * 60),
    'the window the day is counted over (shorter only in tests and the bench)',
  ),
  EXOSEND_LEASE_SECONDS: byDefault(positiveNumber, '60', "how soon a crashed instance's SMTP sessions come back"),
  EXOSEND_QUEUE: byDefault(
    z
      .string()
      .regex(
        /^[a-z0-9](?!.*--)[a-z0-9-]{1,55}[a-z0-9]$/,
        'must be a storage queue name (3-57 lowercase letters, digits, dashes)',
      ),
    'outbound-mail',
    'intake queue (poison queue is `<name>-poison`)',
  ),
  EXOSEND_QUEUE_MAX_ATTEMPTS: byDefault(
    positiveInt,
    '8',
    'tries for transient failures before a message is dead-lettered',
  ),
  EXOSEND_QUEUE_RETRY_BASE_SECONDS: byDefault(seconds, '30', 'first retry delay from the queue; doubles per try'),
  // read only when the host indexes the timer (bindingSetting): loadConfig parses it and keeps nothing
  EXOSEND_HEALTH_SCHEDULE: byDefault(z.string().min(1), '0 */5 * * * *', 'NCRONTAB for the health check'),
  EXOSEND_HEALTH_TO: optional(
    z.email('must be an email address'),
    'unset',
    'recipient of synthetic sends; unset: the check stops after AUTH',
  ),
  AZURE_AUTHORITY_HOST: byDefault(httpsUrl, 'https://login.microsoftonline.com', 'identity platform host'),
  AZURE_CLIENT_ID: optional(
    z.string(),
    'system-assigned',
    'user-assigned managed identity that reads the vault (or whose token is the assertion)',
  ),
  // set by App Service on every worker: they fill the Function App's name into a fix
  WEBSITE_SITE_NAME: optional(z.string(), 'unset outside Azure', "the Function App's name, set by App Service"),
  WEBSITE_RESOURCE_GROUP: optional(
    z.string(),
    'unset outside Azure',
    "the Function App's resource group, set by App Service",
  ),
  // Telemetry reads this itself (src/telemetry/telemetry.ts), so it works when the other settings
  // are invalid; it is parsed here too, and nothing kept, so a malformed one stops the app at start
  // as it always has: with local authentication off, ingestion refuses telemetry without a token,
  // and the health check's availability results would stop arriving with only one warning to say why.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: optional(
    z
      .string()
      .refine(
        (value) => parseTelemetryAuthentication(value) !== undefined,
        'must be "Authorization=AAD" or "Authorization=AAD;ClientId=<GUID>"',
      ),
    'unset: no token',
    "`Authorization=AAD;ClientId=<identity>`: telemetry sent with that identity's Entra token",
  ),
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;

/**
 * Documented settings that some other module reads from the environment, not the table: each names
 * the file that reads it. docs/settings.md shows the same defaults (test/settings.test.ts).
 */
export interface SettingReadElsewhere {
  variable: string;
  readBy: string;
  unset: WhenUnset;
  meaning: string;
}

const storageByIdentity = [
  'credential',
  'clientId',
  'managedIdentityResourceId',
  'queueServiceUri',
  'tableServiceUri',
  'blobServiceUri',
  'accountName',
];

export const settingsReadElsewhere: readonly SettingReadElsewhere[] = [
  // how callers prove who they are: checked where the routes are registered (src/functions/caller-route.ts)
  {
    variable: 'EXOSEND_CALLER_AUTH',
    readBy: 'src/config/caller-auth.ts',
    unset: { value: 'key' },
    meaning: 'how callers prove who they are: function keys, Entra tokens, or both',
  },
  {
    variable: 'EXOSEND_API_AUDIENCE',
    readBy: 'src/config/caller-auth.ts',
    unset: { means: 'unset' },
    meaning: "the API's Application ID URI and client ID (entra, both)",
  },
  {
    variable: 'EXOSEND_CALLER_KEY',
    readBy: 'src/config/caller-auth.ts',
    unset: { means: 'unset' },
    meaning: 'with both: the key a caller may present instead of a token',
  },
  // delivery tracking, read by the status view and the report reader
  {
    variable: 'EXOSEND_DELIVERY_TRACKING',
    readBy: 'src/config/delivery-settings.ts',
    unset: { value: 'bounces' },
    meaning: 'how exosend learns what became of each recipient',
  },
  {
    variable: 'EXOSEND_DELIVERY_HORIZON_HOURS',
    readBy: 'src/config/delivery-settings.ts',
    unset: { value: '48' },
    meaning: 'a recipient with no news this long after the send is unknown',
  },
  {
    variable: 'EXOSEND_OUTCOMES_QUEUE',
    readBy: 'src/config/delivery-settings.ts',
    unset: { value: 'outbound-mail-outcomes' },
    meaning: 'where every final outcome goes as a small JSON event',
  },
  {
    variable: 'EXOSEND_DELIVERY_SCHEDULE',
    readBy: 'src/config/delivery-settings.ts',
    unset: { value: '0 */5 * * * *' },
    meaning: "NCRONTAB of the delivery reports reader's timer",
  },
  {
    variable: 'EXOSEND_HEALTH_FROM',
    readBy: 'src/health/health-settings.ts',
    unset: { means: 'the mailbox' },
    meaning: 'From of the synthetic send: the mailbox or one of the allowed senders',
  },
  // read as the Functions host reads the connection; loadConfig calls the reader
  {
    variable: 'AzureWebJobsStorage',
    readBy: 'src/config/storage-connection.ts',
    unset: { means: 'one of the two forms' },
    meaning: 'storage for queues, tables and blobs, as a connection string',
  },
  ...storageByIdentity.map((property) => ({
    variable: `AzureWebJobsStorage__${property}`,
    readBy: 'src/config/storage-connection.ts',
    unset: { means: 'one of the two forms' },
    meaning: 'storage for queues, tables and blobs, by identity',
  })),
  // read on every call, so telemetry reports its own trouble even when the other settings are invalid;
  // no start-up check: the only one (an InstrumentationKey) is telemetry's, which warns once and
  // sends nothing, and a pasted telemetry string should not stop the mail
  {
    variable: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    readBy: 'src/telemetry/telemetry.ts',
    unset: { means: 'unset: no telemetry' },
    meaning: 'telemetry',
  },
];
