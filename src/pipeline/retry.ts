import { DeliveryFailed } from '../diagnosis/failures.js';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** The first wait; each further one doubles. */
  baseDelayInMs: number;
  /** Waits beyond this budget are the caller's to make (a 503 with Retry-After, a queue delay). */
  maxTotalDelayInMs: number;
}

/** For a caller holding an HTTP request open: a few quick tries, then let it come back later. */
export const inCallRetryPolicy: RetryPolicy = { attempts: 3, baseDelayInMs: 250, maxTotalDelayInMs: 5_000 };

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
  return (code === 'TEMPORARY_FAILURE' || code === 'GRAPH_UNAVAILABLE') && !/^[45]\d\d[ -]/.test(smtp) && !/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/.test(smtp);
}

/** Runs `attempt` again while it fails with a retryable diagnosis and the budget allows. */
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
      if (!(error instanceof DeliveryFailed)) throw error;
      history.push(error.diagnosis.code);
      const delay = Math.max(policy.baseDelayInMs * 2 ** (tries - 1), (error.diagnosis.retryAfterSeconds ?? 0) * 1000);
      const giveUp =
        !error.diagnosis.retryable ||
        retriedByTheSdk(error) ||
        mayHaveBeenAccepted(error) ||
        tries >= policy.attempts ||
        waited + delay > policy.maxTotalDelayInMs;
      if (giveUp) throw new DeliveryFailed(error.diagnosis, history);
      waited += delay;
      await new Promise((resolve) => setTimeout(resolve, delay));
      onRetry?.({ attempt: tries + 1, code: error.diagnosis.code });
    }
  }
}
