import type { BudgetUsage } from '../budget/budget.js';
import type { HealthRuntime } from './health-runtime.js';

/**
 * Each mailbox's use of its minute, its sessions and its day, as every instance counted it (or this
 * process, without storage). A budget that cannot be read is left out: health must still answer.
 */
export async function budgetsOf(runtime: Pick<HealthRuntime, 'transports'>): Promise<BudgetUsage[]> {
  const usages = await Promise.all(
    [...runtime.transports.values()].map((t) => t.budget.usage().catch(() => undefined)),
  );
  return usages.filter((u): u is BudgetUsage => u !== undefined);
}

/** One line per mailbox for a log line or availability properties: `mailbox minute 3/30 sessions 1/3 day 120/10000`. */
export function budgetSummary(budgets: readonly BudgetUsage[] | undefined): string | undefined {
  if (!budgets?.length) return undefined;
  return budgets
    .map(
      (b) =>
        `${b.mailbox} minute ${b.minute.used}/${b.minute.limit} sessions ${b.connections.used}/${b.connections.limit} day ${b.day.used}/${b.day.limit}`,
    )
    .join('; ');
}
