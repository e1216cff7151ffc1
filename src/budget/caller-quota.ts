import type { BudgetLimits } from './budget.js';
import type { DayShare } from './day-share.js';

/** A caller's own daily quota, as the shared ledger enforces it beside the mailbox's day. */
export interface CallerQuota {
  /** The caller's id (app id), as records name it. */
  caller: string;
  /** Recipients a rolling day; undefined: bounded by the mailbox's day (and `dayShare`). */
  dailyQuota: number | undefined;
  /** Its share of the mailbox's day against the other callers that may send from it; absent: none kept from it. */
  dayShare?: DayShare;
}

/** The part of the mailbox's ledger that counts each caller's recipients: per 1/24 of the day, by caller id. */
export interface CallerCounts {
  callers?: Record<string, [number, number][]>;
  holds: { caller?: string; recipients: number }[];
}

const hourOf = (limits: BudgetLimits) => Math.max(1, Math.floor(limits.dayInMs / 24));

/** Recipients a caller has sent in the rolling day, and those of its sends under way. */
export function callerDayUsed(ledger: CallerCounts, caller: string): number {
  const counted = (ledger.callers?.[caller] ?? []).reduce((sum, [, n]) => sum + n, 0);
  return counted + ledger.holds.filter((h) => h.caller === caller).reduce((sum, h) => sum + h.recipients, 0);
}

/**
 * When the caller's own day has no room for `recipients`: the time its oldest counted hours leave the
 * day. A caller with no send counted today is let through whatever the size (Exchange judges it).
 */
export function callerQuotaFreesAt(
  ledger: CallerCounts,
  quota: CallerQuota,
  recipients: number,
  now: number,
  limits: BudgetLimits,
  holdMaxInMs: number,
): number | undefined {
  if (quota.dailyQuota === undefined) return undefined;
  const used = callerDayUsed(ledger, quota.caller);
  if (used === 0 || used + recipients <= quota.dailyQuota) return undefined;
  const excess = used + recipients - quota.dailyQuota;
  const hour = hourOf(limits);
  let freed = 0;
  for (const [start, n] of ledger.callers?.[quota.caller] ?? []) {
    freed += n;
    if (freed >= excess) return start + hour + limits.dayInMs;
  }
  return now + holdMaxInMs + hour + limits.dayInMs;
}

/** Counts a completed send's recipients to its caller, in the hour it completed. */
export function countToCaller(
  ledger: CallerCounts,
  hold: { caller?: string; recipients: number },
  at: number,
  limits: BudgetLimits,
): void {
  if (!hold.caller) return;
  const hour = hourOf(limits);
  const start = Math.floor(at / hour) * hour;
  const buckets = ((ledger.callers ??= {})[hold.caller] ??= []);
  const bucket = buckets.find(([t]) => t === start);
  if (bucket) bucket[1] += hold.recipients;
  else {
    buckets.push([start, hold.recipients]);
    buckets.sort((a, b) => a[0] - b[0]);
  }
}

/** Drops hours that left the day, and callers with none left (the ledger stays one small entity). */
export function pruneCallers(ledger: CallerCounts, now: number, limits: BudgetLimits): void {
  if (!ledger.callers) return;
  const hour = hourOf(limits);
  for (const [caller, buckets] of Object.entries(ledger.callers)) {
    const kept = buckets.filter(([start]) => start + hour + limits.dayInMs > now);
    if (kept.length > 0) ledger.callers[caller] = kept;
    else delete ledger.callers[caller];
  }
  if (Object.keys(ledger.callers).length === 0) delete ledger.callers;
}
