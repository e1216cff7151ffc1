import type { CallerTag } from '../auth/caller-scope.js';
import type { MailRequest } from '../mail/mail-request.js';
import { requestDigest } from '../mail/request-digest.js';
import { IdempotencyKeyReused } from '../mail/request-rejected.js';
import { claimCheckBlobName } from './claim-check-name.js';
import { encodeQueueMessage, type Envelope } from './queue-message.js';
import type { MessageRecord, StatusStore } from './status-store.js';
import type { QueueStorage } from '../storage/storage.js';

/** A queue message holds 64 KiB of base64 text; larger requests travel as a blob (claim check). */
export const maxInlineMessageBytes = 60 * 1024;

export interface Enqueued {
  id: string;
  /** `queued`, or the status of the earlier request this one repeats. */
  status: string;
  repeated: boolean;
}

/**
 * The one way a validated request enters the queue (`/api/enqueue`, `exosend enqueue`): a new id
 * is queued; a caller's idempotency key that names a request already is a repeat when the content
 * is the same, and refused when it is not. A record without a digest (written before digests
 * existed) cannot be compared: refusing is safe, a silent drop is not.
 */
export async function enqueueOnce(
  storage: QueueStorage,
  store: StatusStore,
  request: MailRequest,
  id: string,
  caller?: CallerTag,
): Promise<Enqueued> {
  const digest = requestDigest(request);
  const existing = request.idempotencyKey === undefined ? undefined : await store.get(id);
  if (existing && existing.digest !== digest) throw new IdempotencyKeyReused({ id, status: existing.status });
  // /api/send failed for now (transient, budget) under this key: nothing went out, the queue may try
  if (existing?.status === 'failed' && existing.retryable && (await store.reopen(id, existing.history, digest))) {
    await storage.ready();
    await putEnvelope(storage, { exosend: 1, id, history: existing.history, request, ...(caller && { caller }) });
    return { id, status: 'queued', repeated: false };
  }
  if (existing) return { id, status: existing.status, repeated: true };
  const winner = await enqueueRequest(storage, store, request, id, caller);
  // Regression: two concurrent enqueues of one key with other content both answered 202, and the
  // loser later read `sent` for a message that was not its own (its own was dead-lettered as a
  // reused key). The record decides: whoever's digest it holds won, every other content is refused.
  if (winner && winner.digest !== digest) throw new IdempotencyKeyReused({ id, status: winner.status });
  return { id, status: winner?.status ?? 'queued', repeated: false };
}

/**
 * Puts a validated request on the intake queue under `id`, and records it as queued with its
 * digest. Returns the record that was there first when another request under the same id got to
 * it between (a race of two enqueues, or the delivery of the other one's message).
 */
export async function enqueueRequest(
  storage: QueueStorage,
  store: StatusStore,
  request: MailRequest,
  id: string,
  caller?: CallerTag,
): Promise<MessageRecord | undefined> {
  await storage.ready();
  const put = await putEnvelope(storage, { exosend: 1, id, history: [], request, ...(caller && { caller }) });
  // after the message: a record never says "queued" for a message that was never queued. If this
  // write fails the message is still queued, and its delivery's claim creates the record: telling
  // the caller "failed" now would only invite a second, duplicate enqueue.
  const digest = requestDigest(request);
  const created = await store.markQueued(id, digest, caller).catch(() => true);
  if (created) return undefined;
  const first = await store.get(id).catch(() => undefined);
  // other content lost the race: its message is taken back, unless a delivery holds it already
  // (which then dead-letters it as a reused key, without touching the record)
  if (first && first.digest !== digest)
    await storage.intake.deleteMessage(put.messageId, put.popReceipt).catch(() => undefined);
  return first;
}

/** Puts an envelope on the intake queue, visible after `delaySeconds`. */
export async function putEnvelope(
  storage: QueueStorage,
  envelope: Envelope,
  delaySeconds = 0,
): Promise<{ messageId: string; popReceipt: string }> {
  const text = await fitToQueue(storage, envelope);
  return storage.intake.sendMessage(text, { visibilityTimeout: Math.max(0, Math.round(delaySeconds)) });
}

/** The message text for `value`; an inline request that would not fit moves to a blob (claim check). */
export async function fitToQueue<T extends { id: string; request?: unknown; blob?: string }>(
  storage: QueueStorage,
  value: T,
): Promise<string> {
  const text = encodeQueueMessage(value);
  if (text.length <= maxInlineMessageBytes || value.request === undefined) return text;
  return encodeQueueMessage({
    ...value,
    request: undefined,
    blob: await moveRequestToBlob(storage, value.id, value.request),
  });
}

/**
 * Stores a request as a claim-check blob of `id`; returns the blob's name, `<id>.<digest>.json`:
 * other content under the same id (a reused key, a dead letter of it) never overwrites it.
 */
export async function moveRequestToBlob(storage: QueueStorage, id: string, request: unknown): Promise<string> {
  const blob = claimCheckBlobName(id, requestDigest(request));
  const json = JSON.stringify(request);
  await storage.requests.getBlockBlobClient(blob).upload(json, Buffer.byteLength(json), {
    blobHTTPHeaders: { blobContentType: 'application/json' },
  });
  return blob;
}

/** The request an envelope carries: inline, or the JSON text of its blob, for the request's own checks to parse. */
export async function loadRequest(storage: QueueStorage, envelope: Envelope): Promise<unknown> {
  if (envelope.blob === undefined) return envelope.request;
  const content = await storage.requests.getBlockBlobClient(envelope.blob).downloadToBuffer();
  return content.toString('utf8');
}
