import { BudgetExhausted, type BudgetUsage } from '../budget/budget.js';
import { budgetDiagnosis, type BudgetDiagnosis } from '../budget/budget-diagnosis.js';

/**
 * The mailboxes whose rolling day is spent, as budget diagnoses: which mailbox, and when one
 * recipient fits again. With function keys one caller can spend the whole day for all of them
 * (issue 22), and mail still "works" (the token, the AUTH, the check's lease are all fine), so
 * health says it apart from a failure: `degraded`, 503, and the availability property budgetSpent.
 */
export function spentBudgets(budgets: readonly BudgetUsage[] | undefined): BudgetDiagnosis[] {
  return (budgets ?? []).flatMap((b) =>
    b.day.used >= b.day.limit
      ? [budgetDiagnosis(new BudgetExhausted(b.mailbox, 'day', b.day.freesInSeconds ?? 3600, 3600))]
      : [],
  );
}

/** For the availability result's `budgetSpent` property (the alert rule budget-spent selects on it): `mailbox day 10000/10000 frees in 3600 s`. */
export function spentSummary(budgets: readonly BudgetUsage[] | undefined): string | undefined {
  const spent = (budgets ?? []).filter((b) => b.day.used >= b.day.limit);
  if (!spent.length) return undefined;
  return spent
    .map((b) => `${b.mailbox} day ${b.day.used}/${b.day.limit} frees in ${b.day.freesInSeconds ?? '?'} s`)
    .join('; ');
}
