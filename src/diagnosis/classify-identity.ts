import { diagnose } from './diagnose.js';
import type { Diagnosis, DiagnosisCode, DiagnosisContext } from './diagnosis.js';

/** The fields @azure/identity's errors (and the MSAL errors they wrap) may carry. */
interface IdentityErrorFields {
  name?: unknown;
  message?: unknown;
  statusCode?: unknown;
  errorResponse?: { error?: unknown; errorDescription?: unknown; errorCodes?: unknown };
  errors?: unknown;
}

const identityErrorNames = new Set([
  'AuthenticationError',
  'AuthenticationRequiredError',
  'CredentialUnavailableError',
  'AggregateAuthenticationError',
]);

/** AADSTS codes with a setup step of their own; any other one keeps its text in the reply. */
const aadstsCodes: Record<string, DiagnosisCode> = {
  '7000215': 'INVALID_CLIENT_SECRET',
  // a client assertion outside its time range: the credential is what is wrong (certificates only)
  '700024': 'INVALID_CLIENT_SECRET',
  '7000222': 'CLIENT_SECRET_EXPIRED',
  '700027': 'CERTIFICATE_NOT_REGISTERED',
  // no federated identity credential matches the assertion's issuer, audience, subject; 70021 is the older, undivided code
  '700211': 'FEDERATED_CREDENTIAL_MISMATCH',
  '700212': 'FEDERATED_CREDENTIAL_MISMATCH',
  '700213': 'FEDERATED_CREDENTIAL_MISMATCH',
  '70021': 'FEDERATED_CREDENTIAL_MISMATCH',
  '700016': 'APP_NOT_FOUND_IN_TENANT',
  // application disabled: the catalogue entry names that case
  '7000112': 'APP_NOT_FOUND_IN_TENANT',
  '90002': 'TENANT_NOT_FOUND',
  '900023': 'TENANT_NOT_FOUND',
  // resource principal not found: the scope names a resource the tenant lacks -- the scope is wrong
  // far more often than the tenant lacks Exchange Online, so the scope's entry, whose fix says both
  '500011': 'TOKEN_WRONG_AUDIENCE',
  '1002012': 'TOKEN_WRONG_AUDIENCE',
  '70011': 'TOKEN_WRONG_AUDIENCE',
};

const transientText =
  /temporarily_unavailable|server_error|network_error|endpoints_resolution_error|ETIMEDOUT|ECONNRESET|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|socket hang up|AADSTS(90033|50196)\b/i;

export function isIdentityError(err: unknown): boolean {
  const { name, message } = fields(err);
  return (
    (typeof name === 'string' && identityErrorNames.has(name)) ||
    (typeof message === 'string' && /AADSTS\d+/.test(message))
  );
}

/** The identity platform (or the way to it) failed, not the app's setup: trying again can help. */
export function isTransientIdentityError(err: unknown): boolean {
  const { statusCode, message, errorResponse, errors } = fields(err);
  if (typeof statusCode === 'number' && (statusCode >= 500 || statusCode === 429)) return true;
  if (Array.isArray(errors) && errors.some(isTransientIdentityError)) return true;
  const keyword = errorResponse?.error;
  return transientText.test(
    `${typeof keyword === 'string' ? keyword : ''} ${typeof message === 'string' ? message : ''}`,
  );
}

/** An @azure/identity failure to get the app's token, as a diagnosis with the AADSTS line as its reply. */
export function classifyIdentityError(err: unknown, context: DiagnosisContext): Diagnosis {
  return diagnose(identityCode(err), context, { smtp: identityReply(err), stage: 'token' });
}

function identityCode(err: unknown): DiagnosisCode {
  const { message, errorResponse } = fields(err);
  const text = typeof message === 'string' ? message : '';
  const listed: unknown = Array.isArray(errorResponse?.errorCodes) ? errorResponse.errorCodes[0] : undefined;
  const aadsts =
    typeof listed === 'number' || typeof listed === 'string'
      ? String(listed)
      : (/AADSTS(\d+)/.exec(text)?.[1] ?? /Error\(s\): (\d+)/.exec(text)?.[1]);
  const known = aadsts === undefined ? undefined : aadstsCodes[aadsts];
  if (known) return known;
  if (/Invalid tenant id provided/i.test(text)) return 'TENANT_NOT_FOUND';
  return 'TOKEN_ENDPOINT_UNAVAILABLE';
}

/** `invalid_client: AADSTS7000215: Invalid client secret provided. ...` without trace, correlation and time. */
export function identityReply(err: unknown): string | undefined {
  const { message, errorResponse } = fields(err);
  const description = typeof errorResponse?.errorDescription === 'string' ? errorResponse.errorDescription : undefined;
  const text = description ?? (typeof message === 'string' ? message : undefined);
  if (!text) return undefined;
  const line = (/AADSTS\d+:[^\r\n]*/.exec(text)?.[0] ?? preferredLine(text)).replace(
    /\s*-?\s*(Trace ID|Correlation ID|Timestamp):.*$/s,
    '',
  );
  const keyword = typeof errorResponse?.error === 'string' ? errorResponse.error : /^([a-z_]+):\s/.exec(text)?.[1];
  return keyword && !line.startsWith(keyword) ? `${keyword}: ${line}` : line;
}

/** A chained credential lists one line per credential: the managed identity's is the telling one. */
function preferredLine(text: string): string {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  return lines.find((l) => l.includes('ManagedIdentityCredential')) ?? lines[0] ?? text;
}

function fields(err: unknown): IdentityErrorFields {
  return typeof err === 'object' && err !== null ? err : { message: String(err) };
}
