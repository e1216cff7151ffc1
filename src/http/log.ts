import type { InvocationContext } from '@azure/functions';

type Fields = Record<string, string | number | boolean | undefined>;

/**
 * One structured line per event, queryable in Application Insights traces. Callers pass ids,
 * codes and timings only: never a token, a secret, an address list or a message body.
 */
export function logEvent(context: InvocationContext, event: string, fields: Fields): void {
  const line = JSON.stringify({ event: `exosend.${event}`, ...fields });
  if (event === 'failed' || event === 'misconfigured') context.warn(line);
  else context.info(line);
}
