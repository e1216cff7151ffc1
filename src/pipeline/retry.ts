import type { ExosendConfig } from '../config/load-config.js';
import { DeliveryFailed } from '../diagnosis/failures.js';

/**
 * When a failed try is tried again, and after how long: the one policy type of the send stories.
 * The HTTP send retries inside the call (withRetries); the queue retries by a delayed copy of the
 * message (nextRetryInMs); both ask their policy. Two waits are not retries and stay where they
 * are: the budget's wait for room (a send that has not been tried yet; the transport's
 * `waitUpToMs`), and the SMTP transport's new token after a refused AUTH (the same try, which
 * Exchange never had: mailbox-transport.ts).
 */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** The first wait; each further one doubles, up to `maxDelayInMs`. A wait Exchange or Entra asked for is never cut short. */
  baseDelayInMs: number;
  maxDelayInMs: number;
  /** Waits beyond this budget are the caller's to make (a 503 with Retry-After, a queue delay). */
  maxTotalDelayInMs: number;
  /** Whether a try that failed so may be tried again at all, whatever the count and the waits. */
  mayRetry: (error: unknown) => boolean;
}

/** For a caller holding an HTTP request open: a few quick tries, then let it come back later. */
export const inCallRetryPolicy: RetryPolicy = {
  attempts: 3,
  baseDelayInMs: 250,
  maxDelayInMs: 5_000,
  maxTotalDelayInMs: 5_000,
  mayRetry: (error) =>
    error instanceof DeliveryFailed &&
    error.diagnosis.retryable &&
    !retriedByTheSdk(error) &&
    !mayHaveBeenAccepted(error),
};

/**
 * For a queued message: a delayed copy of it comes back, from EXOSEND_QUEUE_RETRY_BASE_SECONDS
 * doubling to an hour, until EXOSEND_QUEUE_MAX_ATTEMPTS tries are used up.
 */
export function queueRetryPolicy(
  config: Pick<ExosendConfig, 'queueMaxAttempts' | 'queueRetryBaseSeconds'>,
): RetryPolicy {
  return {
    attempts: config.queueMaxAttempts,
    baseDelayInMs: config.queueRetryBaseSeconds * 1000,
    maxDelayInMs: 60 * 60 * 1000,
    maxTotalDelayInMs: Infinity,
    mayRetry: retryableOrUnexpected,
  };
}

/**
 * For the record of a message Exchange already took: a Table hiccup is tried again in place, since
 * nothing may lead to a second send; if storage stays down, the error goes on.
 */
export const recordWriteRetryPolicy: RetryPolicy = {
  attempts: 3,
  baseDelayInMs: 200,
  maxDelayInMs: 400,
  maxTotalDelayInMs: Infinity,
  mayRetry: () => true,
};

/**
 * Key Vault's and Entra's clients already retry a transient failure several times with backoff:
 * trying them again here would multiply those waits past the caller's budget.
 */
function retriedByTheSdk(error: DeliveryFailed): boolean {
  return error.diagnosis.stage === 'vault' || error.diagnosis.stage === 'token';
}

/**
 * A connection lost without a reply may have been lost after Exchange accepted the message: trying
 * again inside the call could send it twice. Only a failure to connect at all is known to be safe.
 */
function mayHaveBeenAccepted(error: DeliveryFailed): boolean {
  const { code, smtp = '' } = error.diagnosis;
  // Graph's no-answer (a timeout, a 504) reads like SMTP's: no status in front of the reply
  return (
    (code === 'TEMPORARY_FAILURE' || code === 'GRAPH_UNAVAILABLE') &&
    !/^[45]\d\d[ -]/.test(smtp) &&
    !/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/.test(smtp)
  );
}

/**
 * A queued message is tried again on any transient diagnosis, and on an unexpected error too: that
 * counts as a try, so the attempts bound it and no failure can loop for ever. A permanent diagnosis
 * would fail the same way again.
 */
function retryableOrUnexpected(error: unknown): boolean {
  return !(error instanceof DeliveryFailed) || error.diagnosis.retryable;
}

/**
 * The wait before the try after try `tries` (1 for the first), which failed with `error`, having
 * waited `waitedInMs` so far; undefined: the policy gives up. The base doubles with every try, and
 * a delay Exchange or Entra asked for (Retry-After, throttling) is never cut short.
 */
export function nextRetryInMs(policy: RetryPolicy, tries: number, error: unknown, waitedInMs = 0): number | undefined {
  const backoff = Math.min(policy.maxDelayInMs, policy.baseDelayInMs * 2 ** Math.max(0, tries - 1));
  const asked = error instanceof DeliveryFailed ? (error.diagnosis.retryAfterSeconds ?? 0) * 1000 : 0;
  const delay = Math.max(backoff, asked);
  const giveUp = !policy.mayRetry(error) || tries >= policy.attempts || waitedInMs + delay > policy.maxTotalDelayInMs;
  return giveUp ? undefined : delay;
}

/** Runs `attempt` again while the policy allows, waiting in between. */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  /** Told before each retry: the try about to start (2 for the first retry) and why the last one failed. */
  onRetry?: (retry: { attempt: number; code: string }) => void,
): Promise<T> {
  const history: string[] = [];
  let waited = 0;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof DeliveryFailed) history.push(error.diagnosis.code);
      const delay = nextRetryInMs(policy, tries, error, waited);
      if (delay === undefined)
        throw error instanceof DeliveryFailed ? new DeliveryFailed(error.diagnosis, history) : error;
      waited += delay;
      await new Promise((resolve) => setTimeout(resolve, delay));
      onRetry?.({
        attempt: tries + 1,
        code: error instanceof DeliveryFailed ? error.diagnosis.code : 'UNEXPECTED_ERROR',
      });
    }
  }
}
