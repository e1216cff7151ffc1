import { BudgetExhausted, type BudgetUsage } from '../budget/budget.js';
import { budgetDiagnosis, type BudgetDiagnosis } from '../budget/budget-diagnosis.js';

/**
 * Windows (minutes, unless EXOSEND_RATE_WINDOW_SECONDS shortens them) that sends must have kept
 * waiting for the mailbox's minute before health calls it saturated. A minute full for a moment is
 * the pacing at work (a burst waits a window, then goes) and must not flap GET /api/health.
 */
export const minuteSaturatedAfterWindows = 5;

const saturated = (b: BudgetUsage) =>
  b.minute.spentForSeconds !== undefined &&
  b.minute.spentForSeconds >= minuteSaturatedAfterWindows * b.minute.windowSeconds;

/**
 * The mailboxes whose minute has stayed spent: callers' sends have waited for it without a break
 * for 5 windows or more, so /api/send answers 429 MINUTE_LIMIT_REACHED to whoever cannot wait and
 * the queue defers (issue 22). Mail works, it waits: health is `degraded`, and looks again in a window.
 */
export function saturatedMinutes(budgets: readonly BudgetUsage[] | undefined): BudgetDiagnosis[] {
  return (budgets ?? []).filter(saturated).map((b) => {
    const windowSeconds = Math.max(1, Math.ceil(b.minute.windowSeconds));
    const diagnosis = budgetDiagnosis(new BudgetExhausted(b.mailbox, 'minute', windowSeconds, windowSeconds));
    return {
      ...diagnosis,
      cause: `Sends from the mailbox ${b.mailbox} have waited for a free slot in its minute (EXOSEND_RATE_PER_MINUTE; Exchange Online allows 30 a minute per mailbox) without a break for ${b.minute.spentForSeconds} s, counted across every instance of exosend: callers ask for more than the mailbox may send. /api/send answers 429 to a caller that cannot wait, and queued mail is deferred.`,
      fix: 'Find who sends the volume (customEvents exosend.sent grouped by customDimensions.caller); give callers Entra identities with a share of the minute each (docs/callers.md), move what can wait to /api/enqueue, or send from several mailboxes (EXOSEND_MAILBOXES). Exchange Online is not a bulk sender.',
    };
  });
}

/** For the availability result's `minuteSaturated` property (the alert rule mailbox-minute-saturated selects on it): `mailbox minute 30/30 spent for 420 s`. */
export function saturatedSummary(budgets: readonly BudgetUsage[] | undefined): string | undefined {
  const spent = (budgets ?? []).filter(saturated);
  if (!spent.length) return undefined;
  return spent
    .map((b) => `${b.mailbox} minute ${b.minute.used}/${b.minute.limit} spent for ${b.minute.spentForSeconds} s`)
    .join('; ');
}
