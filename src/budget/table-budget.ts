import type { TableClient } from '@azure/data-tables';
import { emptyLedger, othersWant, type BudgetLedger } from './ledger.js';
import { LedgerBudget, type LedgerBudgetOptions } from './ledger-budget.js';

export const budgetTable = 'exosendbudget';
const rowKey = 'budget';
/** A copy of the ledger this young may answer "no room" without a read. */
const freshInMs = 20;
const gatherInMs = 2;

interface LedgerEntity {
  partitionKey: string;
  rowKey: string;
  ledger: string;
}

interface Pending {
  change: (ledger: BudgetLedger, now: number) => unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * The mailbox's ledger as one Table entity (partition = the mailbox), shared by every instance of
 * every function. A change is a conditional Replace on the ETag last seen; on 412 (another
 * instance changed it) the ledger is read again and the change decided anew, so no two instances
 * can both take the last room. Changes queued while a write is under way go together in the next
 * one: a finished send's release and the next send's take often cost a single round trip.
 */
export class TableBudget extends LedgerBudget {
  readonly scope = 'shared';
  private trips = 0;
  private cached: { etag: string; ledger: BudgetLedger; at: number } | undefined;
  private queue: Pending[] = [];
  /** A drain is due or under way: it takes every change queued before it ends. */
  private writing = false;
  private created: Promise<void> | undefined;

  constructor(
    options: LedgerBudgetOptions,
    private readonly table: () => Promise<TableClient>,
  ) {
    super(options);
  }

  get roundTrips(): number {
    return this.trips;
  }

  othersWaitForConnection(): boolean {
    return othersWant(this.cached?.ledger, this.waiter, Date.now());
  }

  protected transact<T>(change: (ledger: BudgetLedger, now: number) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ change, resolve: resolve, reject });
      if (this.writing) return;
      this.writing = true;
      // a moment's pause gathers what comes right after: a finished send's release and the next
      // send's take, made a tick apart, go out in one write
      setTimeout(() => void this.drain(), gatherInMs);
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const results = await this.apply(batch);
          batch.forEach((p, i) => p.resolve(results[i]));
        } catch (error) {
          this.cached = undefined;
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      // in the same tick as the last look at the queue: a change queued after it starts a new
      // drain (when this was cleared a few ticks later, a change queued in between waited for ever)
      this.writing = false;
    }
  }

  /** Decides every change on the latest ledger and stores them in one conditional write. */
  private async apply(batch: Pending[]): Promise<unknown[]> {
    const table = await this.table();
    for (let race = 0; ; race++) {
      const current = this.cached ?? (await this.read(table));
      const ledger = structuredClone(current.ledger);
      const now = Date.now();
      const results = batch.map((p) => p.change(ledger, now));
      const text = JSON.stringify(ledger);
      if (text === JSON.stringify(current.ledger)) {
        // nothing to store: the answer stands if the ledger is fresh; on an older copy, another
        // instance may have given something back since, so look again before saying no
        if (now - current.at <= freshInMs) return results;
        this.cached = undefined;
        continue;
      }
      try {
        this.trips++;
        const { etag } = await table.updateEntity<LedgerEntity>(
          { partitionKey: this.mailbox, rowKey, ledger: text },
          'Replace',
          { etag: current.etag },
        );
        this.cached = { etag: etag!, ledger, at: now };
        return results;
      } catch (error) {
        if (statusOf(error) !== 412 || race > 50) throw error;
        this.cached = undefined; // another instance changed it: decide again on what it wrote
      }
    }
  }

  private async read(table: TableClient): Promise<{ etag: string; ledger: BudgetLedger; at: number }> {
    for (;;) {
      try {
        this.trips++;
        const entity = await table.getEntity<LedgerEntity>(this.mailbox, rowKey);
        this.cached = { etag: entity.etag, ledger: JSON.parse(entity.ledger) as BudgetLedger, at: Date.now() };
        return this.cached;
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
        await this.create(table);
      }
    }
  }

  private async create(table: TableClient): Promise<void> {
    this.created ??= table.createTable().then(() => undefined);
    await this.created.catch(() => (this.created = undefined));
    this.trips++;
    await table
      .createEntity<LedgerEntity>({ partitionKey: this.mailbox, rowKey, ledger: JSON.stringify(emptyLedger()) })
      .catch((error: unknown) => {
        if (statusOf(error) !== 409) throw error; // another instance created it first
      });
  }
}

const statusOf = (error: unknown) => (error as { statusCode?: unknown }).statusCode;
