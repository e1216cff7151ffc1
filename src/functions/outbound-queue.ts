import { app, type InvocationContext } from '@azure/functions';
import { bindingSetting } from '../config/load-config.js';
import { logEvent } from '../telemetry/log-event.js';
import {
  deadLetterUnprocessable,
  hostMaxDequeueCount,
  processQueueMessage,
} from '../pipeline/process-queue-message.js';
import { getQueueRuntime } from '../runtime/queue-runtime.js';
import { trackMailEvent } from '../telemetry/mail-events.js';
import { bindCaller, type CallerTag } from '../auth/caller-scope.js';
import { callerOfQueueMessage } from '../queue/queue-caller.js';
import { policyStoreFor } from '../auth/resolve-caller.js';
import { dayPeersOf } from '../auth/day-peers.js';
import { readCallerAuth, type CallerAuthMode } from '../config/caller-auth.js';
import { getRuntime } from '../runtime/runtime.js';

/** The intake queue: each message is a mail request (or exosend's own envelope), sent once or dead-lettered. */
export async function outboundMail(message: unknown, context: InvocationContext): Promise<void> {
  // its log lines and telemetry name the caller the envelope carries (the default policy's for a producer's own)
  const caller = await callerOfQueueMessage(message, () => policyStoreFor(getRuntime().config));
  // and its sends leave the other callers their unused shares of the mailbox's day, as over HTTP
  const dayPeers = dayPeersOf(caller.id, callerAuthMode(), () => getRuntime().config);
  const tag: CallerTag = { ...caller, ...(dayPeers && { dayPeers }) };
  // every log line of the message names its caller
  bindCaller(context, tag);
  return deliverOutboundMail(message, context, tag);
}

/** A bad EXOSEND_CALLER_AUTH leaves no HTTP route registered; the queue still sends, keeping no shares (as `key`). */
function callerAuthMode(): CallerAuthMode {
  try {
    return readCallerAuth().mode;
  } catch {
    return 'key';
  }
}

async function deliverOutboundMail(message: unknown, context: InvocationContext, caller: CallerTag): Promise<void> {
  const started = performance.now();
  const { id: queueMessageId, dequeueCount } = context.triggerMetadata as { id: string; dequeueCount: number };
  const deps = await getQueueRuntime();
  let outcome;
  try {
    outcome = await processQueueMessage(message, queueMessageId, deps, caller);
  } catch (error) {
    logEvent(context, 'queue.error', {
      id: queueMessageId,
      dequeueCount,
      error: error instanceof Error ? error.name : 'unknown',
    });
    // the host would move the message to the poison queue raw, with no reason and a record left `sending`
    if (dequeueCount < hostMaxDequeueCount) throw error;
    outcome = await deadLetterUnprocessable(message, queueMessageId, error, deps);
  }
  const durationMs = Math.round(performance.now() - started);
  const { kind, ...fields } = outcome;
  logEvent(context, `queue.${kind}`, { ...fields, dequeueCount, durationMs });
  if (
    outcome.kind === 'sent' ||
    outcome.kind === 'retry' ||
    outcome.kind === 'dead-lettered' ||
    outcome.kind === 'deferred'
  )
    trackMailEvent('queue', { ...outcome, durationMs }, caller);
}

app.storageQueue('outbound-mail', {
  queueName: bindingSetting('EXOSEND_QUEUE'),
  connection: 'AzureWebJobsStorage',
  handler: outboundMail,
});
