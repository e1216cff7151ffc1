import { emptyLedger, type BudgetLedger } from './ledger.js';
import { LedgerBudget } from './ledger-budget.js';

/**
 * The budget of a single process, with no storage to share it through (`npm start` without
 * AzureWebJobsStorage, the CLI, the bench's in-process runs): the same rules, counted here only.
 */
export class LocalBudget extends LedgerBudget {
  readonly roundTrips = 0;
  readonly scope = 'local';
  private readonly ledger: BudgetLedger = emptyLedger();

  /** One process: its callers share its sessions, and nobody else waits. */
  othersWaitForConnection(): boolean {
    return false;
  }

  protected transact<T>(change: (ledger: BudgetLedger, now: number) => T): Promise<T> {
    // a change that throws rejects, as from an async function
    return new Promise((resolve) => resolve(change(this.ledger, Date.now())));
  }
}
