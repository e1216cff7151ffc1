import { isRestError } from '@azure/core-rest-pipeline';
import { callerRefusalCodes, type CallerRefusalCode } from '../auth/caller-refused.js';
import { BudgetExhausted, budgetSpentCode } from '../budget/budget.js';
import { budgetDiagnosis } from '../budget/budget-diagnosis.js';
import type { CallerAuthMode } from '../config/caller-auth.js';
import { ConfigError } from '../config/config-error.js';
import { diagnosisCodes } from '../diagnosis/diagnosis.js';
import { IdempotencyKeyReused, RequestRejected, type RejectionCode } from '../mail/request-rejected.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import { logEvent, type LogContext } from '../telemetry/log-event.js';
import { keyOfRecordId } from '../queue/record-id.js';

/** Each way a caller's request is refused, with its status. */
export const rejectionStatus: Record<RejectionCode, number> = {
  INVALID_REQUEST: 400,
  SENDER_NOT_ALLOWED: 403,
  RECIPIENT_NOT_ALLOWED: 403,
  RECIPIENT_SUPPRESSED: 403,
  MESSAGE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 409,
};

/**
 * Each way a caller itself is refused before its request is read (src/auth/caller-refused.ts):
 * 401 who are you, 403 known but not allowed, 503 its token cannot be checked now.
 */
export const callerRefusalStatus: Record<CallerRefusalCode, 401 | 403 | 503> = {
  CALLER_UNAUTHENTICATED: 401,
  CALLER_TOKEN_INVALID: 401,
  CALLER_TOKEN_EXPIRED: 401,
  CALLER_TOKEN_WRONG_AUDIENCE: 401,
  CALLER_TOKEN_WRONG_ISSUER: 401,
  CALLER_ROLE_MISSING: 403,
  CALLER_NOT_REGISTERED: 403,
  CALLER_KEYS_UNAVAILABLE: 503,
};

/** Retry-After when a transient failure names no delay of its own. */
export const defaultRetryAfterSeconds = 30;

/** One kind of failure answer: its status, the codes its `error.code` can hold, and what comes with it. */
export interface FailureAnswer {
  status: number;
  codes: readonly string[];
  /** `always`, or `sometimes` (when the diagnosis names a wait); absent: never. */
  retryAfter?: 'always' | 'sometimes';
  /** What `error.diagnosis` holds, when there is one: the catalogue's, or a budget's. */
  diagnosis?: 'catalogue' | 'budget';
  /** The WWW-Authenticate header it carries (RFC 6750), when the routes take bearer tokens; absent: none. */
  wwwAuthenticate?: string;
  /** The EXOSEND_CALLER_AUTH values under which it can be answered at all; absent: every one. */
  callerAuth?: readonly CallerAuthMode[];
}

/**
 * Every answer the edge gives for a failure. errorResponse takes its statuses and codes from here,
 * and the OpenAPI document is generated from it: an answer added here is described at once.
 */
export const failureAnswers = {
  ...rejectionAnswers(),
  ...callerRefusalAnswers(),
  refused: { status: 502, codes: diagnosisCodes, retryAfter: 'sometimes', diagnosis: 'catalogue' },
  transient: { status: 503, codes: diagnosisCodes, retryAfter: 'always', diagnosis: 'catalogue' },
  budgetSpent: { status: 429, codes: [budgetSpentCode], retryAfter: 'always', diagnosis: 'budget' },
  storageUnavailable: { status: 503, codes: ['STORAGE_UNAVAILABLE'], retryAfter: 'always' },
  misconfigured: { status: 500, codes: ['CONFIGURATION_INVALID'] },
  notFound: { status: 404, codes: ['NOT_FOUND'] },
} as const satisfies Record<string, FailureAnswer>;

function rejectionAnswers(): Record<RejectionCode, FailureAnswer> {
  const answers = {} as Record<RejectionCode, FailureAnswer>;
  for (const [code, status] of Object.entries(rejectionStatus) as [RejectionCode, number][])
    answers[code] = { status, codes: [code] };
  return answers;
}

/**
 * A caller refusal is answered only where exosend checks callers itself (`entra`, `both`): under
 * `key` the Functions host checks the key, and answers a missing or wrong one before exosend runs.
 * A 401 carries a Bearer challenge (RFC 6750 section 3): with no error code when no credential
 * came, `invalid_token` when the token was refused; so does the 403 for a token without exosend's
 * app role, with `insufficient_scope` (3.1: "the request requires higher privileges than provided by
 * the access token"). A caller with the role but no policy gets no challenge: no other token helps
 * it. A 503 says when to try again.
 */
function callerRefusalAnswers(): Record<CallerRefusalCode, FailureAnswer> {
  const answers = {} as Record<CallerRefusalCode, FailureAnswer>;
  for (const code of callerRefusalCodes) {
    const status = callerRefusalStatus[code];
    answers[code] = {
      status,
      codes: [code],
      callerAuth: ['entra', 'both'],
      ...(status === 401 && {
        wwwAuthenticate: code === 'CALLER_UNAUTHENTICATED' ? 'Bearer' : 'Bearer error="invalid_token"',
      }),
      ...(code === 'CALLER_ROLE_MISSING' && { wwwAuthenticate: 'Bearer error="insufficient_scope"' }),
      ...(status === 503 && { retryAfter: 'always' }),
    };
  }
  return answers;
}

export type FailureKind = keyof typeof failureAnswers;

/** Every code an error answer's `error.code` can hold, in the table's order. */
export const errorCodes = [...new Set(Object.values(failureAnswers).flatMap((a: FailureAnswer) => a.codes))];

/**
 * The edge where failures become HTTP statuses: 4xx for the caller's request, 502 when Exchange,
 * Entra or Key Vault refused for good, 503 with Retry-After when trying later can help, 429 with
 * Retry-After when the mailbox's budget (minute, day, connections) is spent for now.
 * Anything else is a defect: it is rethrown for the host to log and answer.
 */
/** An HTTP answer, as the trigger returns it (the host's HttpResponseInit, of which it is a part). */
export interface HttpAnswer {
  status: number;
  headers?: Record<string, string>;
  jsonBody?: unknown;
}

export function errorResponse(error: unknown, context: LogContext, id?: string): HttpAnswer {
  if (error instanceof RequestRejected) {
    logEvent(context, 'rejected', { id, code: error.code });
    return {
      status: failureAnswers[error.code].status,
      jsonBody: {
        error: {
          code: error.code,
          message: error.message,
          details: error.details,
          ...(error instanceof IdempotencyKeyReused && {
            existing: { ...error.existing, id: keyOfRecordId(error.existing.id) },
          }),
        },
      },
    };
  }
  if (error instanceof DeliveryFailed) {
    const { diagnosis } = error;
    logEvent(context, 'failed', { id, code: diagnosis.code, stage: diagnosis.stage, attempts: error.attempts.length });
    const body = { error: { code: diagnosis.code, message: diagnosis.cause, diagnosis } };
    if (!diagnosis.retryable) {
      // permanent now, but some refusals end on their own (the daily quota's rolling window)
      const headers = diagnosis.retryAfterSeconds ? { 'Retry-After': String(diagnosis.retryAfterSeconds) } : undefined;
      return { status: failureAnswers.refused.status, ...(headers && { headers }), jsonBody: body };
    }
    const retryAfter = String(diagnosis.retryAfterSeconds ?? defaultRetryAfterSeconds);
    return { status: failureAnswers.transient.status, headers: { 'Retry-After': retryAfter }, jsonBody: body };
  }
  if (error instanceof BudgetExhausted) {
    // not a failure of Exchange or of the request: the mailbox's budget is spent for now (never a 502)
    const diagnosis = budgetDiagnosis(error);
    logEvent(context, 'deferred', {
      id,
      code: diagnosis.code,
      mailbox: error.mailbox,
      retryAfterSeconds: error.retryAfterSeconds,
    });
    return {
      status: failureAnswers.budgetSpent.status,
      headers: { 'Retry-After': String(error.retryAfterSeconds) },
      jsonBody: { error: { code: error.code, message: diagnosis.cause, diagnosis } },
    };
  }
  if (isRestError(error) || isCredentialError(error)) {
    // queues, tables or blobs failed under /api/enqueue or /api/messages: nothing was accepted
    const status = isRestError(error) ? error.statusCode : undefined;
    logEvent(context, 'failed', {
      id,
      code: failureAnswers.storageUnavailable.codes[0],
      status,
      cause: isRestError(error) ? undefined : error.name,
    });
    return {
      status: failureAnswers.storageUnavailable.status,
      headers: { 'Retry-After': String(defaultRetryAfterSeconds) },
      jsonBody: {
        error: {
          code: failureAnswers.storageUnavailable.codes[0],
          message: storageMessage(status, isCredentialError(error)),
        },
      },
    };
  }
  if (error instanceof ConfigError) {
    logEvent(context, 'misconfigured', { variables: error.problems.map((p) => p.variable).join(',') });
    return {
      status: failureAnswers.misconfigured.status,
      jsonBody: { error: { code: failureAnswers.misconfigured.codes[0], message: error.message } },
    };
  }
  throw error;
}

/** @azure/identity's failures to get a token: here, only the storage identity's (vault ones arrive as DeliveryFailed). */
const isCredentialError = (error: unknown): error is Error =>
  error instanceof Error &&
  ['CredentialUnavailableError', 'AuthenticationError', 'AggregateAuthenticationError'].includes(error.name);

function storageMessage(status: number | undefined, noToken: boolean): string {
  if (noToken) {
    return "exosend's identity got no token for its storage: check AzureWebJobsStorage__clientId names the identity assigned to the app; try again later.";
  }
  if (status === 401 || status === 403) {
    return "exosend's storage refused its identity: it needs the Storage Queue, Table and Blob Data Contributor roles on the account (or a valid connection string); try again later.";
  }
  return "exosend's storage (queues, tables, blobs) did not answer; try again later.";
}

/** No request with this id is known (GET /api/messages/{id}). */
export function notFoundResponse(id: string): HttpAnswer {
  const { status, codes } = failureAnswers.notFound;
  return {
    status,
    jsonBody: { error: { code: codes[0], message: `No message with id "${id.slice(0, 128)}" is known.` } },
  };
}
