// RestError is @azure/core-rest-pipeline's, which @azure/data-tables re-exports (dist/esm/index.js):
// imported from there, a module that reads a status code does not load the tables SDK with the entry
import { RestError } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';

/** The answer's word on a recipient exosend did not send to. */
export const recipientSuppressedCode = 'RECIPIENT_SUPPRESSED' as const;

export interface Suppression {
  recipient: string;
  /** The bounce code that put it here (RECIPIENT_NOT_FOUND), or ADDED_BY_ADMIN. */
  reason: string;
  statusCode?: string;
  /** The message whose bounce put it here. */
  id?: string;
  at: string;
}

type Entity = {
  partitionKey: string;
  rowKey: string;
  recipient: string;
  reason: string;
  statusCode?: string;
  id?: string;
  at: string;
};

const partition = 'suppressed';

/**
 * Addresses that hard-bounced (they do not exist), shared by every instance in Table storage like
 * the budget: mailing them again only spends the sending mailbox's reputation. An admin lists,
 * adds and removes them (`exosend suppression`); a soft failure never puts one here.
 */
export class SuppressionList {
  private created: Promise<unknown> | undefined;

  constructor(private readonly table: TableClient) {}

  async add(entry: Suppression): Promise<void> {
    await this.ready();
    const { recipient, reason, statusCode, id, at } = entry;
    await this.table.upsertEntity<Entity>(
      {
        partitionKey: partition,
        rowKey: keyOf(recipient),
        recipient: recipient.toLowerCase(),
        reason,
        at,
        ...(statusCode && { statusCode }),
        ...(id && { id }),
      },
      'Replace',
    );
  }

  /** True when it was there. */
  async remove(recipient: string): Promise<boolean> {
    await this.ready();
    try {
      await this.table.deleteEntity(partition, keyOf(recipient));
      return true;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return false;
      throw error;
    }
  }

  async list(): Promise<Suppression[]> {
    await this.ready();
    const out: Suppression[] = [];
    for await (const e of this.table.listEntities<Entity>({
      queryOptions: { filter: `PartitionKey eq '${partition}'` },
    }))
      out.push(toSuppression(e));
    return out.sort((a, b) => (a.recipient < b.recipient ? -1 : 1));
  }

  /** Which of these recipients are suppressed: one point read each, in parallel (a message has at most 500). */
  async find(recipients: readonly string[]): Promise<Suppression[]> {
    await this.ready();
    const unique = [...new Set(recipients.map((r) => r.toLowerCase()))];
    const found = await Promise.all(
      unique.map((r) => this.table.getEntity<Entity>(partition, keyOf(r)).then(toSuppression, ignore404)),
    );
    return found.filter((s): s is Suppression => s !== undefined);
  }

  private ready(): Promise<unknown> {
    this.created ??= this.table.createTable().catch((error: unknown) => {
      this.created = undefined;
      throw error;
    });
    return this.created;
  }
}

/** As the delivery rows key recipients (delivery-store.ts): case-insensitive, Table-safe. */
const keyOf = (recipient: string) =>
  recipient.toLowerCase().replace(/[^a-z0-9._@+=-]/g, (c) => `~${c.codePointAt(0)!.toString(16)}~`);

const toSuppression = (e: Entity): Suppression => ({
  recipient: e.recipient,
  reason: e.reason,
  at: e.at,
  ...(e.statusCode && { statusCode: e.statusCode }),
  ...(e.id && { id: e.id }),
});

const ignore404 = (error: unknown) => {
  if (error instanceof RestError && error.statusCode === 404) return undefined;
  throw error;
};
