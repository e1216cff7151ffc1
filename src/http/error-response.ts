import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { isRestError } from '@azure/core-rest-pipeline';
import { BudgetExhausted } from '../budget/budget.js';
import { budgetDiagnosis } from '../budget/budget-diagnosis.js';
import { ConfigError } from '../config.js';
import { DeliveryFailed, IdempotencyKeyReused, RequestRejected, type RejectionCode } from '../pipeline/errors.js';
import { logEvent } from './log.js';

/** Each way a caller's request is refused, with its status: the OpenAPI document lists them too. */
export const rejectionStatus: Record<RejectionCode, number> = {
  INVALID_REQUEST: 400,
  SENDER_NOT_ALLOWED: 403,
  RECIPIENT_NOT_ALLOWED: 403,
  MESSAGE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 409,
};

/** Retry-After when a transient failure names no delay of its own. */
export const defaultRetryAfterSeconds = 30;

/**
 * The edge where failures become HTTP statuses: 4xx for the caller's request, 502 when Exchange,
 * Entra or Key Vault refused for good, 503 with Retry-After when trying later can help, 429 with
 * Retry-After when the mailbox's budget (minute, day, connections) is spent for now.
 * Anything else is a defect: it is rethrown for the host to log and answer.
 */
export function errorResponse(error: unknown, context: InvocationContext, id?: string): HttpResponseInit {
  if (error instanceof RequestRejected) {
    logEvent(context, 'rejected', { id, code: error.code });
    return {
      status: rejectionStatus[error.code],
      jsonBody: { error: { code: error.code, message: error.message, details: error.details, ...(error instanceof IdempotencyKeyReused && { existing: error.existing }) } },
    };
  }
  if (error instanceof DeliveryFailed) {
    const { diagnosis } = error;
    logEvent(context, 'failed', { id, code: diagnosis.code, stage: diagnosis.stage, attempts: error.attempts.length });
    const body = { error: { code: diagnosis.code, message: diagnosis.cause, diagnosis } };
    if (!diagnosis.retryable) {
      // permanent now, but some refusals end on their own (the daily quota's rolling window)
      const headers = diagnosis.retryAfterSeconds ? { 'Retry-After': String(diagnosis.retryAfterSeconds) } : undefined;
      return { status: 502, ...(headers && { headers }), jsonBody: body };
    }
    const retryAfter = String(diagnosis.retryAfterSeconds ?? defaultRetryAfterSeconds);
    return { status: 503, headers: { 'Retry-After': retryAfter }, jsonBody: body };
  }
  if (error instanceof BudgetExhausted) {
    // not a failure of Exchange or of the request: the mailbox's budget is spent for now (never a 502)
    const diagnosis = budgetDiagnosis(error);
    logEvent(context, 'deferred', { id, code: diagnosis.code, mailbox: error.mailbox, retryAfterSeconds: error.retryAfterSeconds });
    return {
      status: 429,
      headers: { 'Retry-After': String(error.retryAfterSeconds) },
      jsonBody: { error: { code: error.code, message: diagnosis.cause, diagnosis } },
    };
  }
  if (isRestError(error) || isCredentialError(error)) {
    // queues, tables or blobs failed under /api/enqueue or /api/messages: nothing was accepted
    const status = isRestError(error) ? error.statusCode : undefined;
    logEvent(context, 'failed', { id, code: 'STORAGE_UNAVAILABLE', status, cause: isRestError(error) ? undefined : error.name });
    return {
      status: 503,
      headers: { 'Retry-After': String(defaultRetryAfterSeconds) },
      jsonBody: { error: { code: 'STORAGE_UNAVAILABLE', message: storageMessage(status, isCredentialError(error)) } },
    };
  }
  if (error instanceof ConfigError) {
    logEvent(context, 'misconfigured', { variables: error.problems.map((p) => p.variable).join(',') });
    return { status: 500, jsonBody: { error: { code: 'CONFIGURATION_INVALID', message: error.message } } };
  }
  throw error;
}

/** @azure/identity's failures to get a token: here, only the storage identity's (vault ones arrive as DeliveryFailed). */
const isCredentialError = (error: unknown): error is Error =>
  error instanceof Error && ['CredentialUnavailableError', 'AuthenticationError', 'AggregateAuthenticationError'].includes(error.name);

function storageMessage(status: number | undefined, noToken: boolean): string {
  if (noToken) {
    return "exosend's identity got no token for its storage: check AzureWebJobsStorage__clientId names the identity assigned to the app; try again later.";
  }
  if (status === 401 || status === 403) {
    return "exosend's storage refused its identity: it needs the Storage Queue, Table and Blob Data Contributor roles on the account (or a valid connection string); try again later.";
  }
  return "exosend's storage (queues, tables, blobs) did not answer; try again later.";
}
