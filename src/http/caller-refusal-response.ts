import type { CallerRefused } from '../auth/caller-refused.js';
import { defaultRetryAfterSeconds, type HttpAnswer } from './error-response.js';
import { logEvent, type LogContext } from '../telemetry/log-event.js';

/**
 * 401 with a Bearer challenge (RFC 6750 section 3: `invalid_token`, or no error when no credential
 * came), 403 when the caller is known but not allowed, 503 when its token could not be checked.
 */
export function callerRefusalResponse(refused: CallerRefused, context: LogContext, takesTokens: boolean): HttpAnswer {
  logEvent(context, 'caller.refused', { code: refused.code, caller: refused.appId, status: refused.status });
  const body = { error: { code: refused.code, message: refused.message, retryable: refused.status === 503 } };
  if (refused.status === 503)
    return { status: 503, headers: { 'Retry-After': String(defaultRetryAfterSeconds) }, jsonBody: body };
  if (refused.status === 403 || !takesTokens) return { status: refused.status, jsonBody: body };
  const challenge = refused.code === 'CALLER_UNAUTHENTICATED' ? 'Bearer' : 'Bearer error="invalid_token"';
  return { status: 401, headers: { 'WWW-Authenticate': challenge }, jsonBody: body };
}
