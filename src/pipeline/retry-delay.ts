/** The longest a queued message waits between two tries. */
const maxDelaySeconds = 60 * 60;

/**
 * Seconds before try `attempts + 1`: the base doubles with every try, and a delay Exchange or Entra
 * asked for (Retry-After, throttling) is never cut short. The mailbox pacer spreads the rest.
 */
export function retryDelaySeconds(attempts: number, baseSeconds: number, askedSeconds = 0): number {
  const backoff = Math.min(maxDelaySeconds, baseSeconds * 2 ** Math.max(0, attempts - 1));
  return Math.max(backoff, askedSeconds);
}
