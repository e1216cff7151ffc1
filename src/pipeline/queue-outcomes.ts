import { BudgetExhausted } from '../budget/budget.js';
import { budgetDiagnosis } from '../budget/budget-diagnosis.js';
import type { ExosendConfig } from '../config/load-config.js';
import type { Diagnosis } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import { redactSecrets } from '../diagnosis/redact-secrets.js';
import { RequestRejected, type FieldProblem } from '../mail/request-rejected.js';
import { deadLetterText, type DeadLetter } from '../queue/dead-letter.js';
import type { DeliveryStore } from '../queue/delivery-store.js';
import { putEnvelope } from '../queue/enqueue.js';
import type { Envelope } from '../queue/queue-message.js';
import type { MessageRecord, StatusStore } from '../queue/status-store.js';
import type { Suppression, SuppressionList } from '../queue/suppression-list.js';
import type { QueueStorage } from '../storage/storage.js';
import type { MailSender, SendResult } from './mail-sender.js';
import { nextRetryInMs, queueRetryPolicy, recordWriteRetryPolicy, withRetries } from './retry.js';

export interface QueueDeps {
  config: Pick<
    ExosendConfig,
    'allowedSenders' | 'mailbox' | 'queueMaxAttempts' | 'queueRetryBaseSeconds' | 'rateWindowInMs' | 'leaseTtlInMs'
  >;
  sender: Pick<MailSender, 'send'>;
  storage: QueueStorage;
  store: StatusStore;
  /** Each sent message's recipients, for delivery reports to update; absent, none are recorded. */
  deliveries?: DeliveryStore;
  /** Recipients that hard-bounced before: left out of every send. */
  suppressions?: SuppressionList;
}

/** How one delivery of a queue message ends: each kind is the trigger's log event `queue.<kind>`. */
export type QueueOutcome =
  | { kind: 'sent'; id: string; messageId: string; attempts: number }
  | { kind: 'duplicate'; id: string; status: string }
  | { kind: 'in-flight'; id: string; retryInSeconds: number }
  | { kind: 'retry'; id: string; code: string; attempts: number; delaySeconds: number }
  | { kind: 'deferred'; id: string; code: string; mailbox: string; delaySeconds: number }
  | { kind: 'dead-lettered'; id: string; code: string; attempts: number };

/**
 * Sent: from here on, nothing may lead to a second send. A Table hiccup is retried in place; if
 * storage stays down the error goes to the host, and the claim's lease holds off a resend.
 */
export async function sent(
  deps: QueueDeps,
  envelope: Envelope,
  record: MessageRecord,
  result: SendResult,
  suppressed: Suppression[],
): Promise<QueueOutcome> {
  await withRetries(
    () => deps.store.markSent(record, result.messageId, { mailbox: result.mailbox, response: result.response }),
    recordWriteRetryPolicy,
  );
  // the message is out: a recipient list that cannot be written costs its tracking, never a resend
  await withRetries(
    async () => deps.deliveries?.recordSent(envelope.id, result.messageId, { ...result, suppressed }),
    recordWriteRetryPolicy,
  ).catch(() => undefined);
  if (envelope.blob) await deps.storage.requests.deleteBlob(envelope.blob).catch(() => undefined);
  return { kind: 'sent', id: envelope.id, messageId: result.messageId, attempts: record.attempts };
}

/**
 * The send failed: a refused request goes to the poison queue at once, a spent budget waits
 * (defer), anything else is the queue's retry policy's to judge (tryAgainLater).
 */
export function failedSend(
  deps: QueueDeps,
  envelope: Envelope,
  record: MessageRecord,
  error: unknown,
): Promise<QueueOutcome> {
  if (error instanceof RequestRejected) return refused(deps, envelope, record.attempts, error);
  if (error instanceof BudgetExhausted) return defer(deps, envelope, record, error);
  return tryAgainLater(deps, envelope, record, error);
}

/** A request exosend will not send (invalid, a sender or recipient not allowed): the poison queue, at once. */
export function refused(
  deps: QueueDeps,
  envelope: Envelope,
  attempts: number,
  rejection: RequestRejected,
): Promise<QueueOutcome> {
  return deadLetter(deps, envelope, attempts, {
    code: rejection.code,
    reason: rejection.message,
    details: rejection.details,
  });
}

/** The id already names a request with other content: this one goes to the poison queue, and the other's record stays as it is. */
export function keyReused(deps: QueueDeps, envelope: Envelope, other: MessageRecord): Promise<QueueOutcome> {
  const reason = `The id "${envelope.id}" already names a request with other content (${other.status}); this one was not sent. Use a new idempotencyKey for a new request.`;
  return deadLetter(deps, envelope, 1, { code: 'IDEMPOTENCY_KEY_REUSED', reason }, { keepRecord: true });
}

/** Another delivery is sending it: look again once its lease is over, in case that worker died. */
export async function inFlightElsewhere(deps: QueueDeps, envelope: Envelope, retryInMs: number): Promise<QueueOutcome> {
  const retryInSeconds = Math.ceil(retryInMs / 1000) + 1;
  await putEnvelope(deps.storage, envelope, retryInSeconds);
  return { kind: 'in-flight', id: envelope.id, retryInSeconds };
}

/**
 * The mailbox's budget is spent for longer than a delivery waits: a delayed copy comes back when it
 * has room, spread so that the waiting messages do not all come back at once. Not a try, never a
 * dead letter.
 */
async function defer(
  deps: QueueDeps,
  envelope: Envelope,
  record: MessageRecord,
  error: BudgetExhausted,
): Promise<QueueOutcome> {
  const delaySeconds = error.retryAfterSeconds + Math.floor(Math.random() * error.spreadSeconds);
  await putEnvelope(deps.storage, envelope, delaySeconds);
  await deps.store.markDeferred(record);
  return { kind: 'deferred', id: envelope.id, code: budgetDiagnosis(error).code, mailbox: error.mailbox, delaySeconds };
}

/** A delayed copy of the message, or the poison queue when the queue's retry policy gives up (a permanent failure, the tries used up). */
async function tryAgainLater(
  deps: QueueDeps,
  envelope: Envelope,
  record: MessageRecord,
  error: unknown,
): Promise<QueueOutcome> {
  const failure: Failure =
    error instanceof DeliveryFailed
      ? { code: error.diagnosis.code, diagnosis: error.diagnosis }
      : { code: 'UNEXPECTED_ERROR', reason: reasonOf(error) };
  const history = [...envelope.history, { at: new Date().toISOString(), code: failure.code }];
  const delayInMs = nextRetryInMs(queueRetryPolicy(deps.config), record.attempts, error);
  if (delayInMs === undefined) return deadLetter(deps, { ...envelope, history }, record.attempts, failure);
  const delaySeconds = delayInMs / 1000;
  await putEnvelope(deps.storage, { ...envelope, history }, delaySeconds);
  await deps.store.markRetrying(record, history, failure.diagnosis);
  return { kind: 'retry', id: envelope.id, code: failure.code, attempts: record.attempts, delaySeconds };
}

/** An unexpected error, as a dead letter may show it: its message, never anything that looks like a secret. */
export const reasonOf = (error: unknown) =>
  redactSecrets(error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500);

export interface Failure {
  code: string;
  diagnosis?: Diagnosis;
  reason?: string;
  details?: readonly FieldProblem[];
  original?: string;
}

/**
 * The poison queue's letter says which request, why, and every attempt, cut down to fit when it
 * must; the record says failed (unless it belongs to another request: `keepRecord`).
 */
export async function deadLetter(
  deps: QueueDeps,
  envelope: Pick<Envelope, 'id' | 'history' | 'request' | 'blob' | 'caller'>,
  attempts: number,
  failure: Failure,
  { keepRecord = false } = {},
): Promise<QueueOutcome> {
  const letter: DeadLetter = {
    id: envelope.id,
    failedAt: new Date().toISOString(),
    attempts,
    ...failure,
    history: envelope.history,
    request: envelope.request,
    blob: envelope.blob,
    caller: envelope.caller,
  };
  await deps.storage.poison.sendMessage(await deadLetterText(deps.storage, letter));
  if (!keepRecord) {
    await deps.store.markFailed(envelope.id, {
      attempts,
      history: envelope.history,
      caller: envelope.caller,
      ...(failure.diagnosis
        ? { diagnosis: failure.diagnosis }
        : { reason: `${failure.code}: ${failure.reason ?? ''}`.slice(0, 1000) }),
    });
  }
  return { kind: 'dead-lettered', id: envelope.id, code: failure.code, attempts };
}

/** The start of a message as it arrived, for a letter to show; never throws, however it nests. */
export function originalText(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 16_384);
  try {
    return (JSON.stringify(body) ?? String(body)).slice(0, 16_384);
  } catch {
    return '(a parsed message that cannot be written back as JSON: it nests too deep)';
  }
}
