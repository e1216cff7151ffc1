import type { CallerTag } from '../auth/caller-scope.js';
import type { ExosendConfig } from '../config/load-config.js';
import { jsonTextProblem } from '../mail/json-limits.js';
import { idempotencyKeyPattern, type MailRequest } from '../mail/mail-request.js';
import { parseMailRequest } from '../mail/parse-request.js';
import { requestDigest } from '../mail/request-digest.js';
import { RequestRejected } from '../mail/request-rejected.js';
import { loadRequest } from '../queue/enqueue.js';
import { decodeQueueMessage, type Envelope } from '../queue/queue-message.js';
import { dropSuppressed } from '../queue/drop-suppressed.js';
import type { Suppression } from '../queue/suppression-list.js';
import type { QueueStorage } from '../storage/storage.js';
import type { SendResult } from './mail-sender.js';
import {
  deadLetter,
  failedSend,
  inFlightElsewhere,
  keyReused,
  originalText,
  reasonOf,
  refused,
  sent,
  type QueueDeps,
  type QueueOutcome,
} from './queue-outcomes.js';

export type { QueueDeps, QueueOutcome } from './queue-outcomes.js';

/**
 * How long a delivery waits for the mailbox's budget before the message goes back on the queue with
 * a delay: a sixth of the minute (10 s), short next to the host's visibility and timeout; never
 * under 2 s, since a queue's delays come in whole seconds.
 */
const budgetWaitInMs = (config: Pick<ExosendConfig, 'rateWindowInMs'>) => Math.max(2000, config.rateWindowInMs / 6);

/**
 * How long a delivery holds its record: as long as the budget lets a send last (five session
 * leases, 5 minutes), longer than the budget wait and SMTP timeouts can keep one send.
 */
const claimLeaseInMs = (config: Pick<ExosendConfig, 'leaseTtlInMs'>) => 5 * config.leaseTtlInMs;

/** host.json's `extensions.queues.maxDequeueCount`: the try after which the host poisons a message itself. */
export const hostMaxDequeueCount = 5;

/**
 * One delivery of a queue message: exactly one outcome per request, whatever the queue repeats.
 * Sent once (the record says so, and later deliveries stop there); a transient failure comes back
 * later, by a delayed copy of the message; a permanent one goes to the poison queue at once; an
 * unexpected error counts as a try, so that no failure can loop for ever. Only an error that keeps
 * exosend from storing the outcome (storage down) is thrown, for the host to retry the delivery.
 * The flow is here: decode, read and check, claim, send; each way it ends is in queue-outcomes.ts.
 */
export async function processQueueMessage(
  body: unknown,
  queueMessageId: string,
  deps: QueueDeps,
  /** The caller it is sent for (the envelope's, with its policy), held to its share of the mailbox's budget; absent: the mailbox's budget alone. */
  caller?: CallerTag,
): Promise<QueueOutcome> {
  await deps.storage.ready();
  const decoded = decodeQueueMessage(body);
  if (decoded.kind === 'undecodable') {
    return deadLetter(deps, { id: queueMessageId, history: [] }, 1, {
      code: 'UNDECODABLE',
      reason: decoded.reason,
      original: originalText(body),
    });
  }
  const envelope: Envelope =
    decoded.kind === 'envelope'
      ? decoded.envelope
      : { exosend: 1, id: idOf(decoded.json, queueMessageId), history: [], request: decoded.json };

  // checked before the claim, so that its digest can tell a repeat from other content under the same id
  const { digest, request, rejection } = await readAndCheck(deps, envelope);
  const claim = await deps.store.claim(envelope.id, claimLeaseInMs(deps.config), digest, { caller: envelope.caller });
  if (claim.outcome === 'conflict') return keyReused(deps, envelope, claim.record);
  if (claim.outcome === 'finished') return { kind: 'duplicate', id: envelope.id, status: claim.record.status };
  if (claim.outcome === 'in-flight') return inFlightElsewhere(deps, envelope, claim.retryInMs);
  if (rejection) return refused(deps, envelope, claim.record.attempts, rejection);

  let result: SendResult;
  let suppressed: Suppression[];
  try {
    const kept = await dropSuppressed(deps.suppressions, request!);
    suppressed = kept.suppressed;
    result = await deps.sender.send(kept.request, envelope.id, {
      waitUpToMs: budgetWaitInMs(deps.config),
      ...(caller && { caller }),
    });
  } catch (error) {
    return failedSend(deps, envelope, claim.record, error);
  }
  return sent(deps, envelope, claim.record, result, suppressed);
}

/**
 * The last word on a message whose processing threw on its host's final try (host.json's
 * maxDequeueCount): dead-lettered with the reason and its record ended `failed`, rather than moved
 * to the poison queue raw by the host with no reason and a record left `sending`.
 */
export async function deadLetterUnprocessable(
  body: unknown,
  queueMessageId: string,
  error: unknown,
  deps: QueueDeps,
): Promise<QueueOutcome> {
  const decoded = decodeQueueMessage(body);
  const id =
    decoded.kind === 'envelope'
      ? decoded.envelope.id
      : decoded.kind === 'request'
        ? idOf(decoded.json, queueMessageId)
        : queueMessageId;
  const record = await deps.store.get(id).catch(() => undefined);
  if (record?.status === 'sent' || record?.status === 'failed') return { kind: 'duplicate', id, status: record.status };
  const lastError = `Processing failed on every try; the last error: ${reasonOf(error)}`;
  if (record?.status === 'sending') {
    // it may have failed after Exchange accepted it: a letter without its request cannot be put back and sent twice
    return deadLetter(deps, { id, history: record.history }, record.attempts, {
      code: 'UNEXPECTED_ERROR',
      reason: `${lastError}. It may have been sent: check the mailbox's Sent Items for its Message-ID before sending it again.`,
    });
  }
  // never sent: the letter keeps the request, so that it can be put back once the cause is fixed
  const kept =
    decoded.kind === 'envelope'
      ? { request: decoded.envelope.request, blob: decoded.envelope.blob, caller: decoded.envelope.caller }
      : decoded.kind === 'request'
        ? { request: decoded.json }
        : {};
  return deadLetter(deps, { id, history: record?.history ?? [], ...kept }, record?.attempts ?? 1, {
    code: 'UNEXPECTED_ERROR',
    reason: lastError,
    original: originalText(body),
  });
}

/** The request, read and parsed, or why it cannot be sent; and the digest its claim is taken with (none when it could not be read). */
async function readAndCheck(
  deps: QueueDeps,
  envelope: Envelope,
): Promise<{ digest: string | undefined; request?: MailRequest; rejection?: RequestRejected }> {
  let raw: unknown;
  let request: MailRequest | undefined;
  let rejection: RequestRejected | undefined;
  try {
    raw = await readRequest(deps.storage, envelope);
    request = parseMailRequest(raw, deps.config);
  } catch (error) {
    if (!(error instanceof RequestRejected)) throw error;
    rejection = error;
  }
  return {
    digest: raw === undefined ? undefined : requestDigest(request ?? parsedOrText(raw)),
    ...(request && { request }),
    ...(rejection && { rejection }),
  };
}

/**
 * What a refused request's digest is taken of: a claim-check blob's text parsed, as the request
 * was when its digest was first taken, or the text itself when it is not JSON exosend would read.
 */
function parsedOrText(raw: unknown): unknown {
  if (typeof raw !== 'string' || jsonTextProblem(raw)) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** The request an envelope carries; a claim-check blob that is gone is a request that cannot be sent. */
async function readRequest(storage: QueueStorage, envelope: Envelope): Promise<unknown> {
  try {
    return await loadRequest(storage, envelope);
  } catch (error) {
    if ((error as { statusCode?: unknown }).statusCode !== 404) throw error;
    throw new RequestRejected('INVALID_REQUEST', `The request's claim-check blob ${envelope.blob} is missing.`);
  }
}

/** A producer's idempotency key names the request; without one, the queue message's own id does. */
function idOf(json: unknown, queueMessageId: string): string {
  const key =
    typeof json === 'object' && json !== null ? (json as { idempotencyKey?: unknown }).idempotencyKey : undefined;
  return typeof key === 'string' && idempotencyKeyPattern.test(key) ? key : queueMessageId;
}
