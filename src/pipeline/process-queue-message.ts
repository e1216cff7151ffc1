import type { ExosendConfig } from '../config/load-config.js';
import { redactSecrets } from '../diagnosis/redact-secrets.js';
import type { Diagnosis } from '../diagnosis/diagnosis.js';
import { jsonTextProblem } from '../mail/json-limits.js';
import { idempotencyKeyPattern, type MailRequest } from '../mail/mail-request.js';
import { parseMailRequest } from '../mail/parse-request.js';
import { requestDigest } from '../mail/request-digest.js';
import { BudgetExhausted } from '../budget/budget.js';
import { budgetDiagnosis } from '../budget/budget-diagnosis.js';
import { RequestRejected, type FieldProblem } from '../mail/request-rejected.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import type { MailSender } from './mail-sender.js';
import { deadLetterText, type DeadLetter } from '../queue/dead-letter.js';
import { loadRequest, putEnvelope } from '../queue/enqueue.js';
import { decodeQueueMessage, type Envelope } from '../queue/queue-message.js';
import { retryDelaySeconds } from './retry-delay.js';
import type { MessageRecord, StatusStore } from '../queue/status-store.js';
import type { QueueStorage } from '../storage/storage.js';

/**
 * How long a delivery waits for the mailbox's budget before the message goes back on the queue with
 * a delay: a sixth of the minute (10 s), short next to the host's visibility and timeout; never
 * under 2 s, since a queue's delays come in whole seconds.
 */
const budgetWaitInMs = (config: QueueDeps['config']) => Math.max(2000, config.rateWindowInMs / 6);

/**
 * How long a delivery holds its record: as long as the budget lets a send last (five session
 * leases, 5 minutes), longer than the budget wait and SMTP timeouts can keep one send.
 */
const claimLeaseInMs = (config: QueueDeps['config']) => 5 * config.leaseTtlInMs;

/** host.json's `extensions.queues.maxDequeueCount`: the try after which the host poisons a message itself. */
export const hostMaxDequeueCount = 5;

export interface QueueDeps {
  config: Pick<ExosendConfig, 'allowedSenders' | 'queueMaxAttempts' | 'queueRetryBaseSeconds' | 'rateWindowInMs' | 'leaseTtlInMs'>;
  sender: Pick<MailSender, 'send'>;
  storage: QueueStorage;
  store: StatusStore;
}

export type QueueOutcome =
  | { kind: 'sent'; id: string; messageId: string; attempts: number }
  | { kind: 'duplicate'; id: string; status: string }
  | { kind: 'in-flight'; id: string; retryInSeconds: number }
  | { kind: 'retry'; id: string; code: string; attempts: number; delaySeconds: number }
  | { kind: 'deferred'; id: string; code: string; mailbox: string; delaySeconds: number }
  | { kind: 'dead-lettered'; id: string; code: string; attempts: number };

/**
 * One delivery of a queue message: exactly one outcome per request, whatever the queue repeats.
 * Sent once (the record says so, and later deliveries stop there); a transient failure comes back
 * later, by a delayed copy of the message; a permanent one goes to the poison queue at once; an
 * unexpected error counts as a try, so that no failure can loop for ever. Only an error that keeps
 * exosend from storing the outcome (storage down) is thrown, for the host to retry the delivery.
 */
export async function processQueueMessage(body: unknown, queueMessageId: string, deps: QueueDeps): Promise<QueueOutcome> {
  await deps.storage.ready();
  const decoded = decodeQueueMessage(body);
  if (decoded.kind === 'undecodable') {
    return deadLetter(deps, { id: queueMessageId, history: [] }, 1, { code: 'UNDECODABLE', reason: decoded.reason, original: originalText(body) });
  }
  const envelope: Envelope =
    decoded.kind === 'envelope' ? decoded.envelope : { exosend: 1, id: idOf(decoded.json, queueMessageId), history: [], request: decoded.json };

  // checked before the claim, so that its digest can tell a repeat from other content under the same id
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

  const claim = await deps.store.claim(envelope.id, claimLeaseInMs(deps.config), raw === undefined ? undefined : requestDigest(request ?? parsedOrText(raw)));
  if (claim.outcome === 'conflict') {
    const reason = `The id "${envelope.id}" already names a request with other content (${claim.record.status}); this one was not sent. Use a new idempotencyKey for a new request.`;
    return deadLetter(deps, envelope, 1, { code: 'IDEMPOTENCY_KEY_REUSED', reason }, { keepRecord: true });
  }
  if (claim.outcome === 'finished') return { kind: 'duplicate', id: envelope.id, status: claim.record.status };
  if (claim.outcome === 'in-flight') {
    // another delivery is sending it: look again once its lease is over, in case that worker died
    const retryInSeconds = Math.ceil(claim.retryInMs / 1000) + 1;
    await putEnvelope(deps.storage, envelope, retryInSeconds);
    return { kind: 'in-flight', id: envelope.id, retryInSeconds };
  }
  const { attempts } = claim.record;
  if (rejection) return deadLetter(deps, envelope, attempts, { code: rejection.code, reason: rejection.message, details: rejection.details });

  let sent;
  try {
    sent = await deps.sender.send(request!, envelope.id, { waitUpToMs: budgetWaitInMs(deps.config) });
  } catch (error) {
    if (error instanceof BudgetExhausted) return defer(deps, envelope, claim.record, error);
    if (!(error instanceof DeliveryFailed)) return tryAgainLater(deps, envelope, claim.record, { code: 'UNEXPECTED_ERROR', reason: reasonOf(error) });
    const { diagnosis } = error;
    if (!diagnosis.retryable) {
      const history = [...envelope.history, { at: new Date().toISOString(), code: diagnosis.code }];
      return deadLetter(deps, { ...envelope, history }, attempts, { code: diagnosis.code, diagnosis });
    }
    return tryAgainLater(deps, envelope, claim.record, { code: diagnosis.code, diagnosis });
  }
  // Sent: from here on, nothing may lead to a second send. A Table hiccup is retried in place; if
  // storage stays down the error goes to the host, and the claim's lease holds off a resend.
  await withTries(() => deps.store.markSent(claim.record, sent.messageId));
  if (envelope.blob) await deps.storage.requests.deleteBlob(envelope.blob).catch(() => undefined);
  return { kind: 'sent', id: envelope.id, messageId: sent.messageId, attempts };
}

/**
 * The last word on a message whose processing threw on its host's final try (host.json's
 * maxDequeueCount): dead-lettered with the reason and its record ended `failed`, rather than moved
 * to the poison queue raw by the host with no reason and a record left `sending`.
 */
export async function deadLetterUnprocessable(body: unknown, queueMessageId: string, error: unknown, deps: QueueDeps): Promise<QueueOutcome> {
  const decoded = decodeQueueMessage(body);
  const id = decoded.kind === 'envelope' ? decoded.envelope.id : decoded.kind === 'request' ? idOf(decoded.json, queueMessageId) : queueMessageId;
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
  const kept = decoded.kind === 'envelope' ? { request: decoded.envelope.request, blob: decoded.envelope.blob } : decoded.kind === 'request' ? { request: decoded.json } : {};
  return deadLetter(deps, { id, history: record?.history ?? [], ...kept }, record?.attempts ?? 1, { code: 'UNEXPECTED_ERROR', reason: lastError, original: originalText(body) });
}

/**
 * The mailbox's budget is spent for longer than a delivery waits: a delayed copy comes back when it
 * has room, spread so that the waiting messages do not all come back at once. Not a try, never a
 * dead letter.
 */
async function defer(deps: QueueDeps, envelope: Envelope, record: MessageRecord, error: BudgetExhausted): Promise<QueueOutcome> {
  const delaySeconds = error.retryAfterSeconds + Math.floor(Math.random() * error.spreadSeconds);
  await putEnvelope(deps.storage, envelope, delaySeconds);
  await deps.store.markDeferred(record);
  return { kind: 'deferred', id: envelope.id, code: budgetDiagnosis(error).code, mailbox: error.mailbox, delaySeconds };
}

/** A delayed copy of the message, or the poison queue when the tries are used up. */
async function tryAgainLater(deps: QueueDeps, envelope: Envelope, record: MessageRecord, failure: Failure): Promise<QueueOutcome> {
  const history = [...envelope.history, { at: new Date().toISOString(), code: failure.code }];
  if (record.attempts >= deps.config.queueMaxAttempts) return deadLetter(deps, { ...envelope, history }, record.attempts, failure);
  const delaySeconds = retryDelaySeconds(record.attempts, deps.config.queueRetryBaseSeconds, failure.diagnosis?.retryAfterSeconds);
  await putEnvelope(deps.storage, { ...envelope, history }, delaySeconds);
  await deps.store.markRetrying(record, history, failure.diagnosis);
  return { kind: 'retry', id: envelope.id, code: failure.code, attempts: record.attempts, delaySeconds };
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

async function withTries<T>(work: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** An unexpected error, as a dead letter may show it: its message, never anything that looks like a secret. */
const reasonOf = (error: unknown) => redactSecrets(error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500);

interface Failure {
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
async function deadLetter(
  deps: QueueDeps,
  envelope: Pick<Envelope, 'id' | 'history' | 'request' | 'blob'>,
  attempts: number,
  failure: Failure,
  { keepRecord = false } = {},
): Promise<QueueOutcome> {
  const letter: DeadLetter = { id: envelope.id, failedAt: new Date().toISOString(), attempts, ...failure, history: envelope.history, request: envelope.request, blob: envelope.blob };
  await deps.storage.poison.sendMessage(await deadLetterText(deps.storage, letter));
  if (!keepRecord) {
    await deps.store.markFailed(envelope.id, {
      attempts,
      history: envelope.history,
      ...(failure.diagnosis ? { diagnosis: failure.diagnosis } : { reason: `${failure.code}: ${failure.reason ?? ''}`.slice(0, 1000) }),
    });
  }
  return { kind: 'dead-lettered', id: envelope.id, code: failure.code, attempts };
}

/** The start of a message as it arrived, for a letter to show; never throws, however it nests. */
function originalText(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 16_384);
  try {
    return (JSON.stringify(body) ?? String(body)).slice(0, 16_384);
  } catch {
    return '(a parsed message that cannot be written back as JSON: it nests too deep)';
  }
}

/** A producer's idempotency key names the request; without one, the queue message's own id does. */
function idOf(json: unknown, queueMessageId: string): string {
  const key = typeof json === 'object' && json !== null ? (json as { idempotencyKey?: unknown }).idempotencyKey : undefined;
  return typeof key === 'string' && idempotencyKeyPattern.test(key) ? key : queueMessageId;
}
