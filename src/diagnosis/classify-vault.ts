import { diagnose } from './diagnose.js';
import { identityReply, isIdentityError, isTransientIdentityError } from './classify-identity.js';
import type { Diagnosis, DiagnosisCode, DiagnosisContext } from './diagnosis.js';

/** The fields of @azure/core-rest-pipeline's RestError that tell what the vault answered. */
interface VaultErrorFields {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  statusCode?: unknown;
  errors?: unknown;
  response?: { headers?: unknown };
}

export function isVaultError(err: unknown): boolean {
  return fields(err).name === 'RestError';
}

/** A failure to read the client secret from Key Vault, as a diagnosis; honours the vault's Retry-After. */
export function classifyVaultError(err: unknown, context: DiagnosisContext, nowInMs = Date.now()): Diagnosis {
  if (isIdentityError(err)) {
    return diagnose(managedIdentityCode(err), context, { smtp: identityReply(err), stage: 'vault' });
  }
  const { statusCode, code, message } = fields(err);
  const status = typeof statusCode === 'number' ? statusCode : undefined;
  const errorCode = typeof code === 'string' ? code : undefined;
  const text = typeof message === 'string' ? (message.split(/\r?\n/)[0] ?? '') : '';
  const reply = [status, errorCode].filter((p) => p !== undefined).join(' ') + (text ? `: ${text}` : '');
  const retryAfterSeconds = retryAfterSecondsOf(err, nowInMs);
  return diagnose(vaultCode(status, errorCode), context, {
    smtp: reply,
    stage: 'vault',
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  });
}

/**
 * The Function App's own identity failed to get a token for the vault. A credential that calls
 * itself unavailable (no managed identity here, or IMDS answering nowhere because none is enabled)
 * is configuration; only a failing or throttled identity endpoint is worth a retry.
 */
function managedIdentityCode(err: unknown): DiagnosisCode {
  const { name, errors } = fields(err);
  const unavailableOnly =
    name === 'CredentialUnavailableError' ||
    (Array.isArray(errors) && errors.every((e) => fields(e).name === 'CredentialUnavailableError'));
  return !unavailableOnly && isTransientIdentityError(err) ? 'VAULT_UNREACHABLE' : 'VAULT_ACCESS_DENIED';
}

function vaultCode(status: number | undefined, code: string | undefined): DiagnosisCode {
  if (status === 404 || status === 400 || code === 'SecretNotFound') return 'VAULT_SECRET_NOT_FOUND';
  if (status === 401 || status === 403 || code === 'Forbidden' || code === 'AccessDenied') return 'VAULT_ACCESS_DENIED';
  // no status: the request never got an answer (ECONNREFUSED, ENOTFOUND, ETIMEDOUT, REQUEST_SEND_ERROR)
  if (status === undefined || status >= 500 || status === 429 || status === 408 || status === 409)
    return 'VAULT_UNREACHABLE';
  return 'VAULT_ACCESS_DENIED';
}

/** Seconds to wait from Retry-After (seconds or an HTTP date) or Azure's retry-after-ms headers. */
export function retryAfterSecondsOf(err: unknown, nowInMs = Date.now()): number | undefined {
  const headers = fields(err).response?.headers;
  const ms = Number(header(headers, 'retry-after-ms') ?? header(headers, 'x-ms-retry-after-ms'));
  if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms / 1000);
  const value = header(headers, 'retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowInMs) / 1000));
}

function header(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const get = (headers as { get?: unknown }).get;
  const value: unknown =
    typeof get === 'function' ? get.call(headers, name) : (headers as Record<string, unknown>)[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function fields(err: unknown): VaultErrorFields {
  return typeof err === 'object' && err !== null ? err : { message: String(err) };
}
