import { capDetails, type FieldProblem } from '../mail/request-rejected.js';
import type { CallerTag } from '../auth/caller-scope.js';
import type { Diagnosis } from '../diagnosis/diagnosis.js';
import { maxInlineMessageBytes, moveRequestToBlob } from './enqueue.js';
import { encodeQueueMessage, type AttemptRecord } from './queue-message.js';
import type { QueueStorage } from '../storage/storage.js';

/** What the poison queue says of a message that ends `failed`. */
export interface DeadLetter {
  id: string;
  failedAt: string;
  attempts: number;
  code: string;
  reason?: string;
  diagnosis?: Diagnosis;
  details?: readonly FieldProblem[];
  /** The start of a message exosend could not decode, as it arrived. */
  original?: string;
  history: readonly AttemptRecord[];
  request?: unknown;
  /** The claim-check blob that holds the request. */
  blob?: string;
  /** Who sent it (absent: a producer on the queue, under the default policy). */
  caller?: CallerTag;
  /** What was left out so that the letter fits a queue message; absent when nothing was. */
  truncated?: string[];
}

const maxReasonLength = 1000;
const maxOriginalLength = 16_384;

/**
 * The letter as queue message text, always under the queue's 64 KB whatever the message held: a
 * large request moves to a blob (as on the intake queue), then the letter is cut down step by step,
 * each cut named in `truncated`, down to the id, the code and the reason, which always fit.
 */
export async function deadLetterText(storage: QueueStorage, letter: DeadLetter): Promise<string> {
  let current: DeadLetter = {
    ...letter,
    ...(letter.reason !== undefined && { reason: cut(letter.reason, maxReasonLength) }),
    ...(letter.details && { details: capDetails(letter.details) }),
    ...(letter.original !== undefined && { original: cut(letter.original, maxOriginalLength) }),
  };
  let text = tryEncode(current);
  if (text === undefined) current = omit(current, 'request', 'could not be written as JSON');
  else if (text.length > maxInlineMessageBytes && current.request !== undefined) {
    current = { ...current, request: undefined, blob: await moveRequestToBlob(storage, current.id, current.request) };
  }
  const cuts: Array<(l: DeadLetter) => DeadLetter> = [
    (l) => ({
      ...l,
      ...(l.original !== undefined && { original: cut(l.original, 1024) }),
      truncated: [...(l.truncated ?? []), 'original'],
    }),
    (l) => ({
      ...l,
      ...(l.details && { details: capDetails(l.details).slice(0, 5) }),
      truncated: [...(l.truncated ?? []), 'details'],
    }),
    (l) => ({ ...l, history: l.history.slice(-10), truncated: [...(l.truncated ?? []), 'history'] }),
    (l) => omit(l, 'request', 'too large for a queue message'),
    ({ id, failedAt, attempts, code, reason, caller }) => ({
      id,
      failedAt,
      attempts,
      code,
      reason: cut(reason ?? '', 500),
      ...(caller && { caller }),
      history: [],
      truncated: ['everything but the id, the code and the reason'],
    }),
  ];
  for (const step of [(l: DeadLetter) => l, ...cuts]) {
    current = step(current);
    text = tryEncode(current);
    if (text !== undefined && text.length <= maxInlineMessageBytes) return text;
  }
  throw new Error('unreachable: the smallest dead letter always fits');
}

const cut = (s: string, length: number) =>
  s.length > length ? `${s.slice(0, length)}... (cut from ${s.length} characters)` : s;

function omit(letter: DeadLetter, field: 'request', why: string): DeadLetter {
  const { [field]: _left, ...rest } = letter;
  return { ...rest, truncated: [...(letter.truncated ?? []), `${field} (${why})`] };
}

function tryEncode(letter: DeadLetter): string | undefined {
  try {
    return encodeQueueMessage(letter);
  } catch {
    return undefined; // nested too deep for JSON.stringify, or otherwise not JSON
  }
}
