import type { DayPeer } from '../auth/day-peers.js';
import type { BudgetLimits } from './budget.js';

/**
 * A caller's place in its mailbox's day among the other callers that may send from that mailbox
 * (their policies, passed from above by the caller check): it may take recipients only while the day
 * left after them still covers the others' unused shares. Unused share nobody else has is not kept.
 */
export interface DayShare {
  /** The asking caller's weight (its policy's `--share`). */
  weight: number;
  /** The other callers that may send from the mailbox, the asking one left out. */
  others: readonly DayPeer[];
}

/** The part of the mailbox's ledger the day's shares read: its hours, each caller's hours, the sends under way. */
interface DayCounts {
  hours: [number, number][];
  callers?: Record<string, [number, number][]>;
  holds: { caller?: string; recipients: number }[];
}

const hourOf = (limits: BudgetLimits) => Math.max(1, Math.floor(limits.dayInMs / 24));

/**
 * What each other caller may still claim of the day: its share (the day times its weight over all
 * the callers' weights together), never more than its own daily quota (it could not use more).
 */
function claimsOf(share: DayShare, limits: BudgetLimits): { caller: string; claim: number }[] {
  const total = share.others.reduce((sum, o) => sum + o.weight, share.weight);
  return share.others.map((o) => ({
    caller: o.caller,
    claim: Math.min(Math.floor((limits.recipientsPerDay * o.weight) / total), o.dailyQuota ?? Infinity),
  }));
}

/**
 * Whether `recipients` fit once what leaves the day by `at` has left (`at` = now: as the ledger
 * stands). Sends under way leave a day after now at the soonest (as dayFreesAt counts them).
 */
function fitsAt(
  ledger: DayCounts,
  caller: string,
  claims: { caller: string; claim: number }[],
  recipients: number,
  at: number,
  now: number,
  limits: BudgetLimits,
): boolean {
  const hour = hourOf(limits);
  const counted = (buckets: [number, number][] = []) =>
    buckets.filter(([start]) => start + hour + limits.dayInMs > at).reduce((sum, [, n]) => sum + n, 0);
  const holds = now + hour + limits.dayInMs > at ? ledger.holds : [];
  const usedBy = (who: string) =>
    counted(ledger.callers?.[who]) + holds.filter((h) => h.caller === who).reduce((sum, h) => sum + h.recipients, 0);
  const day = counted(ledger.hours) + holds.reduce((sum, h) => sum + h.recipients, 0);
  // the mailbox's own day first (a message larger than a whole day goes alone, as takeSend lets it)
  if (day > 0 && day + recipients > limits.recipientsPerDay) return false;
  // a caller with nothing counted today goes whatever its share (as a quota lets its first send
  // through): a message larger than a small share would otherwise wait for ever
  if (usedBy(caller) === 0) return true;
  const kept = claims.reduce((sum, o) => sum + Math.max(0, o.claim - usedBy(o.caller)), 0);
  return day + recipients + kept <= limits.recipientsPerDay;
}

/**
 * When `caller` may take `recipients` without eating into the others' unused shares of the day:
 * undefined for now; else the first time the hours leaving the day make room (its own recipients
 * leaving, or another caller's beyond that caller's share). As another caller's recipients leave,
 * its unused share grows back by as much: so the time is found by looking at each hour's end in turn.
 */
export function dayShareFreesAt(
  ledger: DayCounts,
  caller: string,
  share: DayShare,
  recipients: number,
  now: number,
  limits: BudgetLimits,
  holdMaxInMs: number,
): number | undefined {
  if (share.others.length === 0) return undefined;
  const claims = claimsOf(share, limits);
  if (fitsAt(ledger, caller, claims, recipients, now, now, limits)) return undefined;
  const hour = hourOf(limits);
  const leaving = new Set(ledger.hours.map(([start]) => start + hour + limits.dayInMs));
  if (ledger.holds.length > 0) leaving.add(now + hour + limits.dayInMs);
  for (const at of [...leaving].filter((t) => t > now).sort((a, b) => a - b))
    if (fitsAt(ledger, caller, claims, recipients, at, now, limits)) return at;
  return now + holdMaxInMs + hour + limits.dayInMs;
}
