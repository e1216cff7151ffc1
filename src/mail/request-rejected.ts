export interface FieldProblem {
  /** Where in the request, as a caller would write it: `to[2]`, `attachments[0].contentBase64`. */
  path: string;
  message: string;
}

export type RejectionCode =
  | 'INVALID_REQUEST'
  | 'SENDER_NOT_ALLOWED'
  | 'RECIPIENT_NOT_ALLOWED'
  | 'RECIPIENT_SUPPRESSED'
  | 'MESSAGE_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'IDEMPOTENCY_KEY_REUSED';

/** Details a rejection carries at most: an answer, a log line or a dead letter stays small whatever was sent. */
export const maxDetails = 20;
const maxDetailLength = 300;

/** The caller's request cannot be sent as it is; nothing was sent and nothing was stored. */
export class RequestRejected extends Error {
  override readonly name = 'RequestRejected';
  readonly details: readonly FieldProblem[];
  constructor(
    readonly code: RejectionCode,
    message: string,
    details: readonly FieldProblem[] = [],
  ) {
    super(message);
    this.details = capDetails(details);
  }
}

/**
 * `/api/send` or `/api/enqueue` under an id that already names a request with other content:
 * nothing was sent or queued. Also the answer to the same content while its first send is still
 * under way, or after it failed for good with no diagnosis to repeat (the message says which).
 */
export class IdempotencyKeyReused extends RequestRejected {
  constructor(
    readonly existing: { id: string; status: string },
    message = `The idempotency key already names a request with other content (status: ${existing.status}); nothing was sent or queued.`,
  ) {
    super('IDEMPOTENCY_KEY_REUSED', message, [
      { path: 'idempotencyKey', message: 'must be new for a new request; repeat a request only with the same content' },
    ]);
  }
}

/** The first `maxDetails` problems, each cut to a readable length, then one that counts the rest. */
export function capDetails(details: readonly FieldProblem[]): FieldProblem[] {
  const cut = (s: string) => (s.length > maxDetailLength ? `${s.slice(0, maxDetailLength)}...` : s);
  const kept = details.slice(0, maxDetails).map((d) => ({ path: cut(d.path), message: cut(d.message) }));
  const more = details.length - kept.length;
  return more > 0 ? [...kept, { path: '', message: `and ${more} more` }] : kept;
}
