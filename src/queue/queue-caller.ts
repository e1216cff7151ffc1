import { keyCallerId } from '../auth/caller.js';
import type { CallerTag } from '../auth/caller-scope.js';
import { defaultPolicy } from '../auth/resolve-caller.js';
import { decodeQueueMessage } from './queue-message.js';

/**
 * Whom a queue message is sent for: the caller its envelope names (it came through /api/enqueue),
 * or, for a request a producer put on the queue itself, the function-key callers' default policy.
 */
export function callerOfQueueMessage(body: unknown): CallerTag {
  const decoded = decodeQueueMessage(body);
  if (decoded.kind === 'envelope' && decoded.envelope.caller) return decoded.envelope.caller;
  return { id: keyCallerId, name: defaultPolicy.displayName };
}
