import type { CallerQuota } from './caller-quota.js';
import type { CallerUsage } from './caller-usage.js';
import { createBudget, type BudgetConfig } from './create-budget.js';
import { LedgerBudget } from './ledger-budget.js';

/**
 * Each caller's use of one mailbox, read from the ledger the sends are taken from (in Table storage
 * when the app has storage): the console's callers view shows what the budget will decide.
 */
export async function readCallerUsage(
  config: BudgetConfig,
  mailbox: string,
  callers: readonly (CallerQuota & { weight: number })[],
): Promise<CallerUsage[]> {
  const budget = createBudget(config, mailbox);
  try {
    if (!(budget instanceof LedgerBudget)) throw new TypeError('the budget keeps no ledger');
    return await budget.callerUsage(callers);
  } finally {
    budget.close();
  }
}
