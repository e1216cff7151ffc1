import { RestError } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';

/** Where a mailbox's Inbox reader is, shared by every instance. */
export interface InboxCursor {
  mailbox: string;
  /** Where the next read starts: Graph's @odata.deltaLink (a round done) or @odata.nextLink (a round cut short by the request budget). */
  link?: string;
  /** How many messages of the link's page are done already (a read cut short part-way through a page). */
  done?: number;
  /** No request to this Inbox before this time (ISO 8601): Graph's Retry-After. */
  notBefore?: string;
  lastRunAt?: string;
  /** The last read's result: `ok`, or the diagnosis code it failed with. */
  lastResult?: string;
}

export type CursorTake = { lease: CursorLease } | { busy: 'leased' | 'throttled'; until: string };

export interface CursorLease {
  cursor: InboxCursor;
  etag: string;
}

type Entity = {
  partitionKey: string;
  rowKey: string;
  etag?: string;
  mailbox: string;
  link?: string;
  done?: number;
  notBefore?: string;
  lastRunAt?: string;
  lastResult?: string;
  leaseUntil?: string;
};

const partition = 'inbox';

/**
 * Each sending mailbox's place in its Inbox, in Table storage: the deltaLink that makes the next
 * read incremental, a lease so that one instance reads a mailbox at a time (two readers would
 * spend the mailbox's Graph requests twice for the same reports), and the Retry-After Graph gave.
 * Leases are taken and given back on the row's ETag; a lapsed lease (a crashed instance) is
 * simply taken over.
 */
export class InboxCursorStore {
  private created: Promise<unknown> | undefined;

  constructor(private readonly table: TableClient) {}

  async take(mailbox: string, leaseInMs: number, now = Date.now()): Promise<CursorTake> {
    await this.ready();
    const key = keyOf(mailbox);
    let current = await this.table.getEntity<Entity>(partition, key).catch(ignore404);
    if (!current) {
      await this.table
        .createEntity<Entity>({ partitionKey: partition, rowKey: key, mailbox })
        .catch((error: unknown) => {
          if (!(error instanceof RestError && error.statusCode === 409)) throw error;
        });
      current = await this.table.getEntity<Entity>(partition, key);
    }
    if (current.leaseUntil && Date.parse(current.leaseUntil) > now)
      return { busy: 'leased', until: current.leaseUntil };
    if (current.notBefore && Date.parse(current.notBefore) > now)
      return { busy: 'throttled', until: current.notBefore };
    const leased: Entity = { ...strip(current), leaseUntil: new Date(now + leaseInMs).toISOString() };
    try {
      const { etag } = await this.table.updateEntity(leased, 'Replace', { etag: current.etag });
      return { lease: { cursor: cursorOf(leased), etag: etag! } };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 412)
        return { busy: 'leased', until: new Date(now + leaseInMs).toISOString() };
      throw error;
    }
  }

  /** Where the read got to, and the lease given back. False when the lease had lapsed and another instance took the row. */
  async release(
    lease: CursorLease,
    next: Pick<InboxCursor, 'link' | 'done' | 'notBefore' | 'lastResult'>,
    now = Date.now(),
  ): Promise<boolean> {
    const { mailbox } = lease.cursor;
    const entity: Entity = {
      partitionKey: partition,
      rowKey: keyOf(mailbox),
      mailbox,
      ...(next.link && { link: next.link }),
      ...(next.done && { done: next.done }),
      ...(next.notBefore && { notBefore: next.notBefore }),
      lastRunAt: new Date(now).toISOString(),
      ...(next.lastResult && { lastResult: next.lastResult }),
    };
    try {
      await this.table.updateEntity(entity, 'Replace', { etag: lease.etag });
      return true;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 412) return false;
      throw error;
    }
  }

  async get(mailbox: string): Promise<InboxCursor | undefined> {
    await this.ready();
    const entity = await this.table.getEntity<Entity>(partition, keyOf(mailbox)).catch(ignore404);
    return entity && cursorOf(entity);
  }

  private ready(): Promise<unknown> {
    this.created ??= this.table.createTable().catch((error: unknown) => {
      this.created = undefined;
      throw error;
    });
    return this.created;
  }
}

const keyOf = (mailbox: string) =>
  mailbox.toLowerCase().replace(/[^a-z0-9._@+=-]/g, (c) => `~${c.codePointAt(0)!.toString(16)}~`);

/** The row as it is written back: the SDK's read-only fields left out. */
function strip(e: Entity): Entity {
  const { partitionKey, rowKey, mailbox, link, done, notBefore, lastRunAt, lastResult } = e;
  return {
    partitionKey,
    rowKey,
    mailbox,
    ...(link && { link }),
    ...(done && { done }),
    ...(notBefore && { notBefore }),
    ...(lastRunAt && { lastRunAt }),
    ...(lastResult && { lastResult }),
  };
}

const cursorOf = (e: Entity): InboxCursor => ({
  mailbox: e.mailbox,
  ...(e.link && { link: e.link }),
  ...(e.done && { done: e.done }),
  ...(e.notBefore && { notBefore: e.notBefore }),
  ...(e.lastRunAt && { lastRunAt: e.lastRunAt }),
  ...(e.lastResult && { lastResult: e.lastResult }),
});

const ignore404 = (error: unknown) => {
  if (error instanceof RestError && error.statusCode === 404) return undefined;
  throw error;
};
