import { createHash } from 'node:crypto';
// RestError is @azure/core-rest-pipeline's, which @azure/data-tables re-exports (dist/esm/index.js):
// imported from there, a module that reads a status code does not load the tables SDK with the entry
import { RestError } from '@azure/core-rest-pipeline';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { recipientSuppressedCode, type Suppression } from './suppression-list.js';
import {
  supersedes,
  type RecipientDelivery,
  type RecipientStatus,
  type DeliverySource,
} from '../mail/recipient-delivery.js';

/** What Exchange said to a recipient at RCPT TO; never changes once written. */
export type SmtpVerdict = 'accepted' | 'rejected' | 'suppressed';

export interface RecipientRow extends RecipientDelivery {
  smtp: SmtpVerdict;
}

type Entity = {
  partitionKey: string;
  rowKey: string;
  etag?: string;
  recipient: string;
  smtp: SmtpVerdict;
  status: RecipientStatus;
  statusCode?: string;
  diagnosis?: string;
  detail?: string;
  at: string;
  source: DeliverySource;
};

/** Table storage takes at most 100 operations in one transaction, all in one partition. */
const batchSize = 100;
const detailLength = 500;

/**
 * Each message's recipients and what became of each, one row per recipient in the message's
 * partition (a message has up to 500: more than one record's property could hold), so that a
 * report about one recipient updates only its row. Beside them, an index from the Message-ID to
 * the id: a delivery report without ENVID names the message only by its Message-ID.
 */
export class DeliveryStore {
  constructor(private readonly table: TableClient) {}

  /** The recipients of a message Exchange took: pending where it accepted them, failed where it refused them. */
  async recordSent(
    id: string,
    messageId: string,
    sent: { accepted: readonly string[]; rejected: readonly string[]; suppressed?: readonly Suppression[] },
    at = new Date().toISOString(),
  ): Promise<void> {
    const rows = [
      ...(sent.suppressed ?? []).map((s) =>
        row(id, {
          recipient: s.recipient,
          smtp: 'suppressed',
          status: 'failed',
          diagnosis: recipientSuppressedCode,
          detail: `suppressed since ${s.at}: ${s.reason}`,
          at,
          source: 'suppression',
        }),
      ),
      ...sent.accepted.map((recipient) =>
        row(id, { recipient, smtp: 'accepted', status: 'pending', at, source: 'smtp' }),
      ),
      ...sent.rejected.map((recipient) =>
        row(id, { recipient, smtp: 'rejected', status: 'failed', at, source: 'smtp' }),
      ),
    ];
    for (let i = 0; i < rows.length; i += batchSize) {
      await this.table.submitTransaction(
        rows.slice(i, i + batchSize).map((e): TransactionAction => ['upsert', e, 'Replace']),
      );
    }
    await this.table.upsertEntity({ partitionKey: indexPartition(messageId), rowKey: '', id }, 'Replace');
  }

  async list(id: string): Promise<RecipientRow[]> {
    const rows: RecipientRow[] = [];
    const filter = `PartitionKey eq '${id.replace(/'/g, "''")}'`;
    for await (const e of this.table.listEntities<Entity>({ queryOptions: { filter } })) rows.push(toRow(e));
    return rows.sort((a, b) => (a.recipient < b.recipient ? -1 : 1));
  }

  /** The id of the message that carried this Message-ID, when exosend sent it. */
  async idForMessageId(messageId: string): Promise<string | undefined> {
    const entity = await this.table.getEntity<{ id: string }>(indexPartition(messageId), '').catch(ignore404);
    return entity?.id;
  }

  /**
   * A new word on one recipient of a message exosend sent; applied when it says more than what is
   * known (src/mail/recipient-delivery.ts), on the row's ETag so that two readers never lose one.
   * Returns the row as it now stands, or undefined when the message has no such recipient or the
   * word changed nothing.
   */
  async update(
    id: string,
    news: Omit<RecipientDelivery, 'recipient'> & { recipient: string },
  ): Promise<RecipientRow | undefined> {
    for (let race = 0; race < 5; race++) {
      const current = await this.table.getEntity<Entity>(id, rowKeyOf(news.recipient)).catch(ignore404);
      if (!current) return undefined;
      if (!supersedes(news, current) || sameWord(news, current)) return undefined;
      const next = row(id, { ...news, smtp: current.smtp });
      try {
        await this.table.updateEntity(next, 'Replace', { etag: current.etag });
        return toRow(next);
      } catch (error) {
        if (!(error instanceof RestError) || error.statusCode !== 412) throw error;
      }
    }
    return undefined;
  }
}

const sameWord = (
  a: Pick<RecipientDelivery, 'status' | 'statusCode'>,
  b: Pick<RecipientDelivery, 'status' | 'statusCode'>,
) => a.status === b.status && (a.statusCode ?? '') === (b.statusCode ?? '');

/**
 * Recipients are keyed case-insensitively; anything but the usual address characters becomes `~`
 * and its code (Table keys refuse `/ \ # ?`, and `%` travels badly in their URLs).
 */
const rowKeyOf = (recipient: string) =>
  recipient.toLowerCase().replace(/[^a-z0-9._@+=-]/g, (c) => `~${c.codePointAt(0)!.toString(16)}~`);

/** An id holds no `!` (src/mail/mail-request.ts): the index's partitions never meet a message's. */
const indexPartition = (messageId: string) =>
  `msgid!${createHash('sha256').update(messageId.trim().toLowerCase()).digest('hex')}`;

function row(id: string, r: RecipientRow): Entity {
  return {
    partitionKey: id,
    rowKey: rowKeyOf(r.recipient),
    recipient: r.recipient,
    smtp: r.smtp,
    status: r.status,
    ...(r.statusCode && { statusCode: r.statusCode }),
    ...(r.diagnosis && { diagnosis: r.diagnosis }),
    ...(r.detail && { detail: r.detail.slice(0, detailLength) }),
    at: r.at,
    source: r.source,
  };
}

function toRow(e: Entity): RecipientRow {
  return {
    recipient: e.recipient,
    smtp: e.smtp,
    status: e.status,
    ...(e.statusCode && { statusCode: e.statusCode }),
    ...(e.diagnosis && { diagnosis: e.diagnosis }),
    ...(e.detail && { detail: e.detail }),
    at: e.at,
    source: e.source,
  };
}

const ignore404 = (error: unknown) => {
  if (error instanceof RestError && error.statusCode === 404) return undefined;
  throw error;
};
