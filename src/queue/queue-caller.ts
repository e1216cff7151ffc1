import { keyCallerId } from '../auth/caller.js';
import type { CallerTag } from '../auth/caller-scope.js';
import { defaultPolicy } from '../auth/resolve-caller.js';
import type { CallerPolicyStore } from '../storage/caller-policy-store.js';
import { decodeQueueMessage } from './queue-message.js';

/**
 * Whom a queue message is sent for: the caller its envelope names (it came through /api/enqueue),
 * or, for a request a producer put on the queue itself, the function-key callers' default policy.
 */
export async function callerOfQueueMessage(
  body: unknown,
  policies: () => Pick<CallerPolicyStore, 'get'> | Promise<Pick<CallerPolicyStore, 'get'>>,
): Promise<CallerTag> {
  const decoded = decodeQueueMessage(body);
  const caller = decoded.kind === 'envelope' ? decoded.envelope.caller : undefined;
  if (!caller || caller.id === keyCallerId) return { id: keyCallerId, name: defaultPolicy.displayName };
  // its daily quota and share as its policy says now (cached 30 s), not as it was when the message was queued
  const policy = await Promise.resolve()
    .then(async () => (await policies()).get(caller.id))
    .catch(() => undefined);
  return {
    ...caller,
    ...(policy?.dailyQuota !== undefined && { dailyQuota: policy.dailyQuota }),
    ...(policy && { share: policy.share }),
  };
}
