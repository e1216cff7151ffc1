/** Stable codes: callers, alert rules and dead letters depend on them. Never rename one. */
export const diagnosisCodes = [
  'VAULT_SECRET_NOT_FOUND',
  'VAULT_ACCESS_DENIED',
  'VAULT_UNREACHABLE',
  'VAULT_CERTIFICATE_NOT_FOUND',
  'CERTIFICATE_NO_PRIVATE_KEY',
  'CERTIFICATE_EXPIRED',
  'CERTIFICATE_NOT_YET_VALID',
  'CERTIFICATE_NOT_REGISTERED',
  'FEDERATED_CREDENTIAL_MISMATCH',
  'MANAGED_IDENTITY_UNAVAILABLE',
  'INVALID_CLIENT_SECRET',
  'CLIENT_SECRET_EXPIRED',
  'APP_NOT_FOUND_IN_TENANT',
  'TENANT_NOT_FOUND',
  'TOKEN_ENDPOINT_UNAVAILABLE',
  'TOKEN_ROLE_MISSING',
  'TOKEN_WRONG_AUDIENCE',
  'TOKEN_TENANT_MISMATCH',
  'TOKEN_APP_MISMATCH',
  'SMTP_AUTH_DISABLED',
  'APP_NOT_REGISTERED_IN_EXCHANGE',
  'AUTH_UNSUCCESSFUL',
  'NOT_AUTHENTICATED',
  'SEND_AS_DENIED',
  'CONCURRENCY_LIMIT',
  'DAILY_QUOTA_EXCEEDED',
  'MAILBOX_FULL',
  'TOKEN_EXPIRES_SOON',
  'SENDER_BLOCKED',
  'TLS_REJECTED',
  'TEMPORARY_FAILURE',
  'SMTP_REJECTED',
  'GRAPH_PERMISSION_MISSING',
  'GRAPH_ACCESS_DENIED',
  'GRAPH_MAILBOX_NOT_FOUND',
  'GRAPH_MAILBOX_NOT_ENABLED',
  'GRAPH_MESSAGE_TOO_LARGE',
  'GRAPH_INVALID_MIME',
  'GRAPH_THROTTLED',
  'GRAPH_UNAVAILABLE',
  'GRAPH_REJECTED',
  'READER_ACCESS_DENIED',
] as const;

export type DiagnosisCode = (typeof diagnosisCodes)[number];

/** The steps of the chain where a failure can happen, in the order a send walks them. */
export const stages = ['vault', 'certificate', 'token', 'claims', 'connect', 'tls', 'auth', 'send'] as const;

export type Stage = (typeof stages)[number];

/** A failure as data: what went wrong, why, and what an admin does about it. */
export interface Diagnosis {
  code: DiagnosisCode;
  stage: Stage;
  /** The raw reply that led here (an SMTP reply line, an AADSTS description, a vault error code). */
  smtp?: string;
  cause: string;
  fix: string;
  retryable: boolean;
  /** How long to wait before a retry can help, when the failure says so or the code implies it. */
  retryAfterSeconds?: number;
}

/** What the catalogue may fill into a fix, so that it names the admin's own app and mailbox. */
export interface DiagnosisContext {
  tenantId?: string;
  clientId?: string;
  mailbox?: string;
  from?: string;
  vaultUrl?: string;
  secretName?: string;
  scope?: string;
  /** EXOSEND_CLIENT_CERTIFICATE_NAME, and what the vault's copy says of itself. */
  certificateName?: string;
  thumbprint?: string;
  notBefore?: string;
  notAfter?: string;
  /** What a federated credential must name to match the managed identity's token. */
  issuer?: string;
  subject?: string;
  audience?: string;
  /** AZURE_CLIENT_ID: the user-assigned identity the app uses. */
  identityClientId?: string;
  /** The Function App and its resource group, as App Service names them (WEBSITE_SITE_NAME, WEBSITE_RESOURCE_GROUP). */
  functionApp?: string;
  resourceGroup?: string;
}
