import type { BudgetLimits } from './budget.js';
import { callerDayUsed, type CallerCounts, type CallerQuota } from './caller-quota.js';
import { callerMinuteUsed, sharesOf, type ShareCounts } from './fair-share.js';

/** One caller's use of one mailbox, as the shared ledger counts it: what an admin reads in the console. */
export interface CallerUsage {
  caller: string;
  /** Recipients counted to it in the rolling day, its sends under way included. */
  dayUsed: number;
  dailyQuota: number | undefined;
  /** What its own day has left; undefined: bounded only by the mailbox's day. */
  dayRemaining: number | undefined;
  /** Its sends in the current window, completed and under way. */
  minuteUsed: number;
  /** The part of the window it would get if it asked now, against the callers competing for it. */
  minuteShare: number;
}

/** Each caller's day and minute, read with the same rules the budget takes sends by (caller-quota.ts, fair-share.ts). */
export function callerUsageOf(
  ledger: CallerCounts & ShareCounts,
  callers: readonly (CallerQuota & { weight: number })[],
  now: number,
  limits: BudgetLimits,
): CallerUsage[] {
  return callers.map(({ caller, dailyQuota, weight }) => {
    const dayUsed = callerDayUsed(ledger, caller);
    return {
      caller,
      dayUsed,
      dailyQuota,
      dayRemaining: dailyQuota === undefined ? undefined : Math.max(0, dailyQuota - dayUsed),
      minuteUsed: callerMinuteUsed(ledger, caller),
      minuteShare: sharesOf(ledger, { caller, weight }, now, limits).get(caller) ?? 1,
    };
  });
}
