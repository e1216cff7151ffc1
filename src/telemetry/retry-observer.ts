import { DeliveryFailed } from '../pipeline/errors.js';

export interface RetryObserved {
  /** The try about to start: 2 for the first retry. */
  attempt: number;
  /** The diagnosis code of the try that failed. */
  code: string;
}

/**
 * Wraps one try of a send so that each retry is reported as it starts: a try after the first
 * happens only when the retry policy chose to retry the failure before it.
 */
export function observeRetries<T>(attempt: () => Promise<T>, onRetry: (retry: RetryObserved) => void): () => Promise<T> {
  let tries = 0;
  let lastCode = 'UNKNOWN';
  return async () => {
    tries += 1;
    if (tries > 1) onRetry({ attempt: tries, code: lastCode });
    try {
      return await attempt();
    } catch (error) {
      lastCode = error instanceof DeliveryFailed ? error.diagnosis.code : 'UNKNOWN';
      throw error;
    }
  };
}
