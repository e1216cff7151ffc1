import { setTimeout as sleep } from 'node:timers/promises';
import type { CallerTag } from '../auth/caller-scope.js';
import { BudgetExhausted } from '../budget/budget.js';
import type { MailRequest } from '../mail/mail-request.js';
import { requestDigest } from '../mail/request-digest.js';
import { IdempotencyKeyReused, RequestRejected } from '../mail/request-rejected.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import type { SendResult } from '../pipeline/mail-sender.js';
import type { DeliveryStore } from '../queue/delivery-store.js';
import { asDropped, type DroppedRecipient } from '../queue/drop-suppressed.js';
import { recipientSuppressedCode, type Suppression, type SuppressionList } from '../queue/suppression-list.js';
import type { MessageRecord, StatusStore } from '../queue/status-store.js';

/** What /api/send answers with 200: a new send's result, or the first send's under a repeated key. */
export interface SendAnswer {
  id: string;
  messageId: string;
  accepted: string[];
  rejected: string[];
  response: string;
  /** Which way it left: SMTP or Microsoft Graph. */
  transport: 'smtp' | 'graph';
  /** Recipients left out because they hard-bounced before (only when there are any). */
  suppressed?: DroppedRecipient[];
}

export interface RecordedSendDeps {
  store: StatusStore;
  deliveries: DeliveryStore;
  /** Recipients that hard-bounced; absent, nobody is left out. */
  suppressions?: SuppressionList;
  /** How long the send holds its record, in case this worker dies while it sends. */
  claimLeaseInMs: number;
  /** How long a repeat waits for the first send of the same content to end before it answers 409. */
  waitForFirstInMs: number;
}

/** The claim on a send's record: the record to send under, or a repeat's answer (the first send's outcome). */
export type SendClaim = { record: MessageRecord } | { repeat: SendAnswer };

/**
 * /api/send with a record: one id, one message, whichever route it came by. The send claims the
 * id's record with the request's digest before it sends, as a queue delivery does, so that two
 * calls under one key never both send: other content is refused (409), the same content again
 * gets the first outcome (waiting for it while it is under way).
 */
export async function claimSend(
  deps: RecordedSendDeps,
  request: MailRequest,
  id: string,
  caller?: CallerTag,
): Promise<SendClaim> {
  const digest = requestDigest(request);
  const deadline = Date.now() + deps.waitForFirstInMs;
  for (;;) {
    const claim = await deps.store.claim(id, deps.claimLeaseInMs, digest, { reclaimRetryable: true, caller });
    if (claim.outcome === 'conflict') throw new IdempotencyKeyReused({ id, status: claim.record.status });
    if (claim.outcome === 'finished') return { repeat: await repeat(deps, claim.record) };
    if (claim.outcome === 'in-flight') {
      if (Date.now() + 250 > deadline) {
        throw new IdempotencyKeyReused(
          { id, status: 'sending' },
          'A request with this idempotency key and this content is being sent now; ask GET /api/messages/{id} for its outcome.',
        );
      }
      await sleep(Math.min(250, claim.retryInMs));
      continue;
    }
    return { record: claim.record };
  }
}

/**
 * A failure the caller may retry (transient, budget spent, an unexpected error: nothing was
 * accepted) leaves the record open to the same request again; a permanent one is repeated as it was.
 */
export async function recordFailure(deps: RecordedSendDeps, record: MessageRecord, error: unknown): Promise<void> {
  const retryable =
    !(error instanceof DeliveryFailed || error instanceof RequestRejected) ||
    (error instanceof DeliveryFailed && error.diagnosis.retryable);
  const failure = error instanceof DeliveryFailed ? { diagnosis: error.diagnosis } : { reason: reasonOf(error) };
  await deps.store.markFailed(record.id, { ...failure, attempts: record.attempts, retryable }).catch(() => undefined);
}

/**
 * Exchange took it: the caller is told so even if storage fails now (the claim's lease holds off
 * a resend for a while); a record that cannot be written is the lesser harm than a second message.
 * The recipients are written before the record says sent: a request with the same key waiting for
 * this one answers from both as soon as it reads "sent" (repeat), and read between the two writes
 * it told its caller that no recipient was accepted.
 */
export async function recordSent(
  deps: RecordedSendDeps,
  record: MessageRecord,
  sent: SendResult,
  suppressed: Suppression[],
): Promise<SendAnswer> {
  await deps.deliveries.recordSent(record.id, sent.messageId, { ...sent, suppressed }).catch(() => undefined);
  await deps.store
    .markSent(record, sent.messageId, { mailbox: sent.mailbox, response: sent.response, transport: sent.transport })
    .catch(() => undefined);
  return { ...sendAnswer(sent), ...(suppressed.length > 0 && { suppressed: suppressed.map(asDropped) }) };
}

/** What the caller is told of a send: never more (the mailbox stays in the record). */
export const sendAnswer = ({ id, messageId, accepted, rejected, response, transport }: SendResult): SendAnswer => ({
  id,
  messageId,
  accepted,
  rejected,
  response,
  transport,
});

/** The first outcome, again: Exchange's answer as it was, or the failure as it was. */
async function repeat(deps: RecordedSendDeps, record: MessageRecord): Promise<SendAnswer> {
  if (record.status === 'sent') {
    const rows = await deps.deliveries.list(record.id);
    const suppressed = rows
      .filter((r) => r.smtp === 'suppressed')
      .map((r) => ({ recipient: r.recipient, code: recipientSuppressedCode, reason: r.detail ?? '' }));
    return {
      id: record.id,
      messageId: record.messageId ?? '',
      accepted: rows.filter((r) => r.smtp === 'accepted').map((r) => r.recipient),
      rejected: rows.filter((r) => r.smtp === 'rejected').map((r) => r.recipient),
      response: record.response ?? '',
      // a record written before Graph existed went out over SMTP
      transport: record.transport ?? 'smtp',
      ...(suppressed.length > 0 && { suppressed }),
    };
  }
  if (record.diagnosis) throw new DeliveryFailed(record.diagnosis);
  throw new IdempotencyKeyReused(
    { id: record.id, status: record.status },
    `The request with this idempotency key failed for good: ${record.reason ?? 'no reason recorded'}. Use a new idempotencyKey for a new try.`,
  );
}

/** Why a send failed with no diagnosis, as a record may hold it: the error's name only, never its text (it may quote a secret). */
function reasonOf(error: unknown): string {
  if (error instanceof BudgetExhausted)
    return `${error.code}: the mailbox's budget was spent; nothing was sent. The same request may try again.`;
  return `UNEXPECTED_ERROR: ${error instanceof Error ? error.name : typeof error}; nothing was accepted. The same request may try again.`;
}
