import { budgetDiagnosisCodes } from '../budget/budget-diagnosis.js';
import { callerRefusalCodes } from '../auth/caller-refused.js';
import { logEvent, type LogContext } from '../telemetry/log-event.js';
import { rejectionStatus, type HttpAnswer } from './error-response.js';

/**
 * What a plain caller (a policy without `operator`) is told, and what only operators are. A caller
 * gets the code, a short message that names no value of exosend's setup, whether to retry and when
 * (`retryable`, `retryAfterSeconds`, Retry-After). The diagnosis's cause and fix, the raw Entra,
 * Key Vault or Exchange reply, a configuration problem and an unexpected error's text name tenant,
 * app and principal ids, vault URLs, secret and certificate names, thumbprints and admin commands:
 * those go to the log line written here, to telemetry, the doctor and the console, and to operators.
 * A refusal of the caller's own request (400/403/409/413/415, its details) and a refusal of the
 * caller itself are about what the caller sent: it gets them whole. (docs/callers.md)
 */
export function asCallerSees<T extends Answer>(answer: T, operator: boolean, context: LogContext): T {
  const body = answer.jsonBody as Record<string, unknown> | undefined;
  const error = body?.['error'] as Record<string, unknown> | undefined;
  // every caller learns whether and when to retry without reading a diagnosis
  const withRetry = error ? { ...body, error: { ...error, ...retryOf(answer, error) } } : body;
  if (operator || withRetry === undefined) return { ...answer, ...(withRetry && { jsonBody: withRetry }) };
  const withheld: Record<string, unknown>[] = [];
  const plain = reduce(withRetry, withheld);
  const first = withheld[0];
  if (first)
    logEvent(context, 'detail-withheld', {
      code: String(first['code']),
      cause: text(first['cause']),
      fix: text(first['fix']),
      reply: text(first['smtp']),
      problem: text(first['problem']),
    });
  return { ...answer, jsonBody: plain };
}

/** Codes whose message speaks of the caller's own request or credentials: shown as they are. */
const ownCodes = new Set<string>([...Object.keys(rejectionStatus), ...callerRefusalCodes, 'NOT_FOUND']);
const budgetCodes = new Set<string>(['MAILBOX_BUDGET_SPENT', ...budgetDiagnosisCodes]);

/** An HTTP answer as a handler returns it (HttpAnswer, or the host's HttpResponseInit). */
type Answer = Partial<Omit<HttpAnswer, 'headers'>> & { headers?: unknown };

function retryOf(answer: Answer, error: Record<string, unknown>): { retryable: boolean; retryAfterSeconds?: number } {
  const header = Number(new Headers(answer.headers as Record<string, string> | undefined).get('retry-after'));
  const diagnosis = error['diagnosis'] as { retryable?: unknown } | undefined;
  const retryable =
    typeof diagnosis?.retryable === 'boolean' ? diagnosis.retryable : answer.status === 429 || answer.status === 503;
  return { retryable, ...(Number.isFinite(header) && header > 0 && { retryAfterSeconds: header }) };
}

/** A copy of a JSON value with every diagnosis cut to its code, stage, limit and retry, and admin texts left out. */
function reduce(value: unknown, withheld: Record<string, unknown>[]): unknown {
  if (Array.isArray(value)) return value.map((v) => reduce(v, withheld));
  if (typeof value !== 'object' || value === null) return value;
  const object = value as Record<string, unknown>;
  if (typeof object['code'] === 'string' && ('cause' in object || 'fix' in object)) {
    withheld.push(object);
    const { code, stage, limit, mailbox, retryable, retryAfterSeconds } = object;
    return Object.fromEntries(
      Object.entries({ code, stage, limit, mailbox, retryable, retryAfterSeconds }).filter(([, v]) => v !== undefined),
    );
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(object)) {
    // a configuration problem names settings; an unexpected error's text may name anything
    if (key === 'problem') {
      withheld.push(object);
      continue;
    }
    if (key === 'reason' && typeof field === 'string') out[key] = plainReason(field);
    else out[key] = reduce(field, withheld);
  }
  if (typeof out['code'] === 'string' && typeof out['message'] === 'string' && !ownCodes.has(out['code'])) {
    if (out['message'] !== shortMessage(out['code'], out['retryable'] === true))
      withheld.push({ code: out['code'], cause: out['message'] });
    out['message'] = shortMessage(out['code'], out['retryable'] === true);
  }
  return out;
}

/** A record's reason (`CODE: text`): whole when it is about the request, else its code and a short sentence. */
function plainReason(reason: string): string {
  const code = /^([A-Z_]+):/.exec(reason)?.[1];
  if (code && ownCodes.has(code)) return reason;
  return `${code ?? 'FAILED'}: ${shortMessage(code ?? 'FAILED', false)}`;
}

/** The short message for a code: what happened and what the caller can do, naming nothing of the setup. */
export function shortMessage(code: string, retryable: boolean): string {
  if (budgetCodes.has(code))
    return "The mailbox's sending budget is spent for now; nothing was sent. Try again after Retry-After, or use /api/enqueue.";
  if (code === 'STORAGE_UNAVAILABLE')
    return "exosend's storage did not answer; nothing was accepted. Try again after Retry-After.";
  if (code === 'CONFIGURATION_INVALID')
    return 'exosend is not configured correctly; its operators see which setting in its logs and with exosend doctor.';
  if (retryable)
    return `Sending failed for a reason that may pass (${code}); nothing was sent. Try again after Retry-After. exosend's operators have the details.`;
  return `Sending was refused for a reason an admin must fix (${code}); nothing was sent. exosend's operators see the details in its logs and with exosend doctor.`;
}

const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, 2000) : undefined);
