import type { CallerRefused } from '../auth/caller-refused.js';
import { defaultRetryAfterSeconds, failureAnswers, type FailureAnswer, type HttpAnswer } from './error-response.js';
import { logEvent, type LogContext } from '../telemetry/log-event.js';

/**
 * A caller refusal as failureAnswers describes it (and the OpenAPI document with it): 401 with a
 * Bearer challenge (RFC 6750 section 3) when the routes take tokens, 403 when the caller is known
 * but not allowed, 503 with Retry-After when its token could not be checked.
 */
export function callerRefusalResponse(refused: CallerRefused, context: LogContext, takesTokens: boolean): HttpAnswer {
  const answer: FailureAnswer = failureAnswers[refused.code];
  const { status } = answer;
  logEvent(context, 'caller.refused', { code: refused.code, caller: refused.appId, status });
  const headers = {
    ...(answer.retryAfter && { 'Retry-After': String(defaultRetryAfterSeconds) }),
    ...(answer.wwwAuthenticate && takesTokens && { 'WWW-Authenticate': answer.wwwAuthenticate }),
  };
  return {
    status,
    ...(Object.keys(headers).length > 0 && { headers }),
    jsonBody: { error: { code: refused.code, message: refused.message, retryable: answer.retryAfter !== undefined } },
  };
}
