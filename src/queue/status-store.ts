// RestError is @azure/core-rest-pipeline's, which @azure/data-tables re-exports (dist/esm/index.js):
// imported from there, a module that reads a status code does not load the tables SDK with the entry
import { RestError } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import type { Diagnosis } from '../diagnosis/diagnosis.js';
import type { CallerTag } from '../auth/caller-scope.js';
import type { OutcomeEvent, OutcomeSink } from './outcome-events.js';
import type { AttemptRecord } from './queue-message.js';

export type MessageStatus = 'queued' | 'sending' | 'sent' | 'failed';

/** What `GET /api/messages/{id}` shows: one record per request id, in Azure Table storage. */
export interface MessageRecord {
  id: string;
  status: MessageStatus;
  attempts: number;
  messageId?: string;
  diagnosis?: Diagnosis;
  /** Why a message failed when no diagnosis applies (it was never a valid request). */
  reason?: string;
  history: AttemptRecord[];
  /** The request's content digest (src/mail/request-digest.ts): one id, one content. */
  digest?: string;
  /** The mailbox it went out from, Exchange's reply and when (a sent record). */
  mailbox?: string;
  response?: string;
  /** Which way it left: SMTP or Microsoft Graph (a sent record). */
  transport?: 'smtp' | 'graph';
  sentAt?: string;
  /** A failure of /api/send that the caller may retry under the same key: nothing was accepted. */
  retryable?: boolean;
  /** The caller it belongs to (app id, or `function-key`) and its display name; absent on records from before caller identities. */
  caller?: string;
  callerName?: string;
  updatedAt: string;
}

export type Claim =
  | { outcome: 'claimed'; record: MessageRecord }
  | { outcome: 'finished'; record: MessageRecord }
  | { outcome: 'in-flight'; retryInMs: number }
  /** The id already names a request with other content: this one must not touch its record. */
  | { outcome: 'conflict'; record: MessageRecord };

interface Entity {
  partitionKey: string;
  rowKey: string;
  etag?: string;
  status: MessageStatus;
  attempts: number;
  messageId?: string;
  diagnosis?: string;
  reason?: string;
  history: string;
  leaseUntil?: number;
  digest?: string;
  transport?: 'smtp' | 'graph';
  mailbox?: string;
  response?: string;
  sentAt?: string;
  retryable?: boolean;
  caller?: string;
  callerName?: string;
  updatedAt: string;
}

export interface ClaimOptions {
  /**
   * /api/send's repeat of a request whose send failed in a way worth retrying (transient, budget):
   * the same content under the same key tries again, since nothing was accepted the first time.
   */
  reclaimRetryable?: boolean;
  /** The caller a record made by this claim belongs to; an existing record keeps its own. */
  caller?: CallerTag;
}

/**
 * Status and idempotency records. A delivery claims its record (optimistic concurrency on the
 * ETag) before it sends, so two deliveries of one request never send at the same time, and a
 * record that says `sent` stops every later delivery.
 */
export class StatusStore {
  /** `outcomes`: where each final outcome also goes (EXOSEND_OUTCOMES_QUEUE), when the runtime gives one. */
  constructor(
    private readonly table: TableClient,
    private readonly outcomes?: OutcomeSink,
  ) {}

  async get(id: string): Promise<MessageRecord | undefined> {
    const entity = await this.read(id);
    return entity && toRecord(entity);
  }

  /** Records a request as queued, unless a record exists already (a retried enqueue, a race): false then. */
  async markQueued(id: string, digest: string, caller?: CallerTag): Promise<boolean> {
    try {
      await this.table.createEntity(
        entity(id, { status: 'queued', attempts: 0, history: '[]', digest, ...owner(caller) }),
      );
      return true;
    } catch (error) {
      if (isStatus(error, 409)) return false;
      throw error;
    }
  }

  /**
   * Takes the record for one send attempt, held for `leaseInMs` in case this worker dies. A record
   * holds the digest of the first content seen under its id; other content under the same id is a
   * conflict, whatever the record's state, and never claims it. Without a digest (the request's
   * content could not be read) there is nothing to compare.
   */
  async claim(
    id: string,
    leaseInMs: number,
    digest?: string,
    { reclaimRetryable = false, caller }: ClaimOptions = {},
  ): Promise<Claim> {
    for (let race = 0; race < 5; race++) {
      const now = Date.now();
      const current = await this.read(id);
      if (current?.digest && digest && current.digest !== digest)
        return { outcome: 'conflict', record: toRecord(current) };
      const retrying = reclaimRetryable && current?.status === 'failed' && current.retryable === true;
      if (current?.status === 'sent' || (current?.status === 'failed' && !retrying))
        return { outcome: 'finished', record: toRecord(current) };
      if (current?.status === 'sending' && (current.leaseUntil ?? 0) > now)
        return { outcome: 'in-flight', retryInMs: current.leaseUntil! - now };
      const claimed = entity(id, {
        status: 'sending',
        attempts: (current?.attempts ?? 0) + 1,
        history: current?.history ?? '[]',
        leaseUntil: now + leaseInMs,
        ...((current?.digest || digest) && { digest: current?.digest || digest }),
        ...(current ? kept(current) : owner(caller)),
      });
      try {
        if (current) await this.table.updateEntity(claimed, 'Replace', { etag: current.etag! });
        else await this.table.createEntity(claimed);
        return { outcome: 'claimed', record: toRecord(claimed) };
      } catch (error) {
        if (!isStatus(error, 409) && !isStatus(error, 412)) throw error; // another delivery won the race: look again
      }
    }
    return { outcome: 'in-flight', retryInMs: leaseInMs };
  }

  /**
   * A failed request back to queued, its tries counted afresh (a dead letter put back after its
   * fix). Only from failed, and only once: false when the record is in any other state, or another
   * caller reopened it first, so that no request is put back twice. `history` is the record's
   * from now on (the letter's, with the put-back at its end). A `digest` that differs from the
   * record's (the letter is of other content under the same id) never reopens it.
   */
  async reopen(id: string, history: AttemptRecord[], digest?: string): Promise<boolean> {
    const current = await this.read(id);
    if (current && current.status !== 'failed') return false;
    if (current?.digest && digest && current.digest !== digest) return false;
    const reopened = entity(id, {
      status: 'queued',
      attempts: 0,
      history: JSON.stringify(history),
      ...(current?.digest && { digest: current.digest }),
      ...(current && kept(current)),
    });
    try {
      if (current) await this.table.updateEntity(reopened, 'Replace', { etag: current.etag! });
      else await this.table.createEntity(reopened);
      return true;
    } catch (error) {
      if (isStatus(error, 409) || isStatus(error, 412)) return false;
      throw error;
    }
  }

  async markSent(
    record: MessageRecord,
    messageId: string,
    details: { mailbox?: string; response?: string; transport?: 'smtp' | 'graph' } = {},
  ): Promise<void> {
    const sentAt = new Date().toISOString();
    await this.write(record, {
      status: 'sent',
      messageId,
      diagnosis: '',
      reason: '',
      retryable: false,
      sentAt,
      ...details,
    });
    await this.announce({ kind: 'message', id: record.id, status: 'sent', messageId, at: sentAt });
  }

  async markRetrying(record: MessageRecord, history: AttemptRecord[], diagnosis?: Diagnosis): Promise<void> {
    await this.write(record, {
      status: 'queued',
      diagnosis: diagnosis ? JSON.stringify(diagnosis) : '',
      history: JSON.stringify(history),
    });
  }

  /** The claim gave back: the budget made the message wait, which is no try of its own. */
  async markDeferred(record: MessageRecord): Promise<void> {
    await this.write(record, { status: 'queued', attempts: Math.max(0, record.attempts - 1) });
  }

  async markFailed(
    id: string,
    failure: {
      diagnosis?: Diagnosis;
      reason?: string;
      history?: AttemptRecord[];
      attempts?: number;
      retryable?: boolean;
      caller?: CallerTag;
    },
  ): Promise<void> {
    const current = await this.read(id);
    await this.table.upsertEntity(
      entity(id, {
        status: 'failed',
        attempts: failure.attempts ?? current?.attempts ?? 0,
        history: JSON.stringify(failure.history ?? []),
        ...(current?.digest && { digest: current.digest }),
        ...(current ? kept(current) : owner(failure.caller)),
        ...(failure.diagnosis && { diagnosis: JSON.stringify(failure.diagnosis) }),
        ...(failure.reason && { reason: failure.reason }),
        ...(failure.retryable && { retryable: true }),
      }),
      'Replace',
    );
    // a retryable failure may still be sent under the same key: not final yet
    const code = failure.diagnosis?.code ?? /^[A-Z_]+/.exec(failure.reason ?? '')?.[0];
    if (!failure.retryable)
      await this.announce({
        kind: 'message',
        id,
        status: 'failed',
        ...(code && { code }),
        at: new Date().toISOString(),
      });
  }

  /** The outcomes queue is for producers' convenience: a failure to write it never fails a send or a record. */
  private async announce(event: OutcomeEvent): Promise<void> {
    await this.outcomes
      ?.publish([event])
      .catch((error: unknown) =>
        console.warn(
          JSON.stringify({ event: 'exosend.outcome-unpublished', id: event.id, error: (error as Error).name }),
        ),
      );
  }

  private async write(record: MessageRecord, changes: Partial<Entity>): Promise<void> {
    await this.table.updateEntity(
      { partitionKey: record.id, rowKey: '', ...changes, leaseUntil: 0, updatedAt: new Date().toISOString() },
      'Merge',
    );
  }

  private async read(id: string): Promise<Entity | undefined> {
    return this.table.getEntity<Entity>(id, '').catch(ignore(404));
  }
}

/** The caller fields of a new record. */
const owner = (caller: CallerTag | undefined) => (caller ? { caller: caller.id, callerName: caller.name } : {});

/** A record's caller, kept through every rewrite of it. */
const kept = (e: Entity) => ({
  ...(e.caller && { caller: e.caller }),
  ...(e.callerName && { callerName: e.callerName }),
});

function entity(id: string, fields: Omit<Entity, 'partitionKey' | 'rowKey' | 'updatedAt'>): Entity {
  return { partitionKey: id, rowKey: '', ...fields, updatedAt: new Date().toISOString() };
}

function toRecord(e: Entity): MessageRecord {
  return {
    id: e.partitionKey,
    status: e.status,
    attempts: e.attempts,
    ...(e.messageId && { messageId: e.messageId }),
    ...(e.diagnosis && { diagnosis: JSON.parse(e.diagnosis) as Diagnosis }),
    ...(e.reason && { reason: e.reason }),
    history: JSON.parse(e.history || '[]') as AttemptRecord[],
    ...(e.digest && { digest: e.digest }),
    ...(e.mailbox && { mailbox: e.mailbox }),
    ...(e.response && { response: e.response }),
    ...(e.transport && { transport: e.transport }),
    ...(e.sentAt && { sentAt: e.sentAt }),
    ...(e.retryable && { retryable: true }),
    ...kept(e),
    updatedAt: e.updatedAt,
  };
}

const isStatus = (error: unknown, status: number) => error instanceof RestError && error.statusCode === status;

const ignore = (status: number) => (error: unknown) => {
  if (isStatus(error, status)) return undefined;
  throw error;
};
