import { requestDigest } from '../mail/request-digest.js';
import { claimCheckDigestOf } from './claim-check-name.js';
import { putEnvelope } from './enqueue.js';
import { isRecordId } from './record-id.js';
import type { AttemptRecord } from './queue-message.js';
import type { CallerTag } from '../auth/caller-scope.js';
import type { StatusStore } from './status-store.js';
import type { QueueStorage } from '../storage/storage.js';

/** What a dead letter must hold to be put back: its id and its request (inline or as a claim-check blob). */
export interface RequeueableLetter {
  id: string;
  code?: string;
  history?: AttemptRecord[];
  request?: unknown;
  blob?: string;
  /** Who sent it: its envelope goes back under the same caller. */
  caller?: CallerTag;
}

export type RequeueOutcome = { kind: 'requeued'; id: string } | { kind: 'not-failed'; id: string; status: string };

/** Why a dead letter cannot go back on the queue, or undefined when it can. */
export function whyNotRequeueable(letter: Partial<RequeueableLetter>): string | undefined {
  if (typeof letter.id !== 'string') return 'it names no request id';
  // anyone who can write to the poison queue can write a letter: it is checked as an envelope would be
  if (!isRecordId(letter.id)) return 'its id is not one exosend gives a request';
  // its id belongs to another request: putting it back would reopen that one's record
  if (letter.code === 'IDEMPOTENCY_KEY_REUSED')
    return 'it reused the idempotency key of another request; send it again under a new key';
  if (letter.request === undefined && letter.blob === undefined)
    return 'it does not hold the request (it was never a mail request, or it was too large to keep)';
  if (
    letter.blob !== undefined &&
    (typeof letter.blob !== 'string' || claimCheckDigestOf(letter.id, letter.blob) === undefined)
  )
    return 'its claim-check blob is not one exosend writes for its id';
  return undefined;
}

/**
 * Puts a dead letter's request back on the intake queue for a new round of tries, once its cause
 * is fixed. Its record goes from failed to queued first, and only once, so that a letter put back
 * twice (two clicks, two consoles) is sent at most once; if the queue refuses the message the
 * record says failed again.
 */
export async function requeueDeadLetter(
  storage: QueueStorage,
  store: StatusStore,
  letter: RequeueableLetter,
): Promise<RequeueOutcome> {
  await storage.ready();
  const history = [...(letter.history ?? []), { at: new Date().toISOString(), code: 'REQUEUED' }];
  if (!(await store.reopen(letter.id, history, letterDigest(letter))))
    return { kind: 'not-failed', id: letter.id, status: (await store.get(letter.id))?.status ?? 'unknown' };
  try {
    await putEnvelope(storage, {
      exosend: 1,
      id: letter.id,
      history,
      request: letter.request,
      ...(letter.blob !== undefined && { blob: letter.blob }),
      ...(letter.caller && { caller: letter.caller }),
    });
  } catch (error) {
    await store
      .markFailed(letter.id, { history, reason: 'REQUEUE_FAILED: the request could not be put back on the queue' })
      .catch(() => undefined);
    throw error;
  }
  return { kind: 'requeued', id: letter.id };
}

/** The digest of the letter's request, when the letter holds it or its blob's name says it (`<id>.<digest>.json`). */
function letterDigest(letter: RequeueableLetter): string | undefined {
  if (letter.request !== undefined) return requestDigest(letter.request);
  return letter.blob === undefined ? undefined : claimCheckDigestOf(letter.id, letter.blob);
}
