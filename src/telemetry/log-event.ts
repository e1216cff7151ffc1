import { callerOf } from '../auth/caller-scope.js';

/** Where a line goes: the invocation's log (the host's InvocationContext has both), or any logger. */
export interface LogContext {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
}

type Fields = Record<string, string | number | boolean | undefined>;

/**
 * One structured line per event, queryable in Application Insights traces. Callers pass ids,
 * codes and timings only: never a token, a secret, an address list or a message body.
 */
export function logEvent(context: LogContext, event: string, fields: Fields): void {
  // the caller it was done for (caller-scope.ts), by app id and name: never its token
  const caller = callerOf(context);
  const line = JSON.stringify({
    event: `exosend.${event}`,
    ...(caller && { caller: caller.id, callerName: caller.name }),
    ...fields,
  });
  // warnings are what an operator must look at: a message that failed for good, a red check
  if (warnings.has(event) || fields['ok'] === false) context.warn(line);
  else context.info(line);
}

const warnings = new Set(['failed', 'misconfigured', 'unhealthy', 'degraded', 'queue.dead-lettered', 'queue.error']);
