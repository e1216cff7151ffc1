import type { BudgetLimit, BudgetLimits } from './budget.js';
import { callerQuotaFreesAt, countToCaller, pruneCallers, type CallerQuota } from './caller-quota.js';
import {
  callerMinuteUsed,
  countMinuteToCaller,
  entryOf,
  noteWaiting,
  pruneShares,
  reservedForOthers,
  sharesOf,
  type CallerShare,
} from './fair-share.js';
import { noteMinuteWait, type MinuteWaits } from './minute-waits.js';
import { dayShareFreesAt } from './day-share.js';

/**
 * One mailbox's use of its limits, as one document: every instance reads it and changes it only
 * with the ETag it read, so each change is atomic across the whole cluster.
 *
 * - `sends`: completed submissions, as [time rounded up to 1/200 of the window, count]. A send is
 *   counted from its completion (which is after Exchange took it) and a new one starts only once
 *   the window has passed since: no sliding window at Exchange ever holds more than the limit.
 * - `holds`: submissions under way, counted against the minute; a holder that dies is counted as
 *   completed at `until`, the latest a send can last.
 * - `hours`: recipients per 1/24 of the day, counted at completion; a bucket leaves the count a
 *   whole day after its end, so the count covers between 24 and 25 hours (never less than Exchange's).
 * - `leases`: open SMTP sessions; a holder that dies stops renewing, and its lease lapses at `until`.
 * - `wants`: instances waiting for a session, oldest first; a freed session goes to them in that
 *   order, and a holder that sees them gives a session up after its turn (see MailboxTransport).
 */
export interface BudgetLedger {
  sends: [number, number][];
  holds: { id: string; until: number; recipients: number; caller?: string }[];
  hours: [number, number][];
  /** Each caller's recipients per 1/24 of the day, for its own daily quota (caller-quota.ts). */
  callers?: Record<string, [number, number][]>;
  /** Each caller's sends in the window, weight and wait, for its fair share of the minute (fair-share.ts). */
  minuteByCaller?: Record<string, { weight: number; sends: [number, number][]; waitsUntil?: number }>;
  leases: { id: string; until: number; kind: 'send' | 'check' }[];
  wants?: { id: string; since: number; until: number }[];
  /** The run of sends that waited for a full minute, for health: a minute that stays spent (minute-waits.ts). */
  minuteWaits?: MinuteWaits;
}

export interface LedgerTimings {
  /** The longest one submission may take: a hold older than that is taken as completed. */
  holdMaxInMs: number;
  /** A lease not renewed for this long lapses: a crashed instance's sessions come back within it. */
  leaseTtlInMs: number;
}

/** `full`: the mailbox's minute itself had no free slot (not only the caller's fair share of it). */
export type Verdict = { ok: true } | { ok: false; limit: BudgetLimit; retryAt: number; full?: true };

export const emptyLedger = (): BudgetLedger => ({ sends: [], holds: [], hours: [], leases: [] });

export const sendGranularity = (limits: BudgetLimits) => Math.max(1, Math.floor(limits.windowInMs / 200));
const hourOf = (limits: BudgetLimits) => Math.max(1, Math.floor(limits.dayInMs / 24));
const roundUp = (t: number, step: number) => Math.ceil(t / step) * step;

/** Drops what no longer counts; a hold past its time becomes a completed send at that time. */
export function prune(ledger: BudgetLedger, now: number, limits: BudgetLimits): void {
  for (const hold of ledger.holds.filter((h) => h.until <= now)) complete(ledger, hold, hold.until, limits);
  ledger.holds = ledger.holds.filter((h) => h.until > now);
  ledger.sends = ledger.sends.filter(([at]) => at > now - limits.windowInMs);
  const hour = hourOf(limits);
  ledger.hours = ledger.hours.filter(([start]) => start + hour + limits.dayInMs > now);
  ledger.leases = ledger.leases.filter((l) => l.until > now);
  ledger.wants = (ledger.wants ?? []).filter((w) => w.until > now);
  pruneCallers(ledger, now, limits);
  pruneShares(ledger, now, limits);
}

export function minuteUsed(ledger: BudgetLedger): number {
  return ledger.sends.reduce((sum, [, n]) => sum + n, 0) + ledger.holds.length;
}

export function dayUsed(ledger: BudgetLedger): number {
  return ledger.hours.reduce((sum, [, n]) => sum + n, 0) + ledger.holds.reduce((sum, h) => sum + h.recipients, 0);
}

/** Takes a send for `recipients` if the minute and the day (and the caller's part of each) have room; else says when they may. */
export function takeSend(
  ledger: BudgetLedger,
  now: number,
  limits: BudgetLimits,
  timings: LedgerTimings,
  id: string,
  recipients: number,
  quota?: CallerQuota,
  share?: CallerShare,
  /** When this send was first refused for a full minute: its grant adds the wait to the run. */
  waitedSince?: number,
): Verdict {
  // the caller's own day first: a caller past its quota waits, and leaves the mailbox's day to the others
  const quotaAt = quota && callerQuotaFreesAt(ledger, quota, recipients, now, limits, timings.holdMaxInMs);
  if (quotaAt !== undefined) return { ok: false, limit: 'quota', retryAt: quotaAt };
  const minute = minuteUsed(ledger);
  if (minute >= limits.ratePerWindow) {
    const retryAt = minuteFreesAt(ledger, minute - limits.ratePerWindow + 1, now, limits);
    if (share) noteWaiting(ledger, share, retryAt, now, limits);
    return { ok: false, limit: 'minute', retryAt, full: true };
  }
  const shareAt = share && fairShareFreesAt(ledger, share, minute, now, limits);
  if (shareAt !== undefined) {
    noteWaiting(ledger, share!, shareAt, now, limits);
    return { ok: false, limit: 'minute', retryAt: shareAt };
  }
  const day = dayUsed(ledger);
  // a message with more recipients than a whole day allows goes alone, and Exchange judges it
  if (day > 0 && day + recipients > limits.recipientsPerDay)
    return {
      ok: false,
      limit: 'day',
      retryAt: dayFreesAt(ledger, day + recipients - limits.recipientsPerDay, now, limits, timings),
    };
  // and the others' unused shares of the day, which the caller leaves them
  const dayShareAt =
    quota?.dayShare &&
    dayShareFreesAt(ledger, quota.caller, quota.dayShare, recipients, now, limits, timings.holdMaxInMs);
  if (dayShareAt !== undefined) return { ok: false, limit: 'share', retryAt: dayShareAt };
  if (share) entryOf(ledger, share);
  if (waitedSince !== undefined) noteMinuteWait(ledger, waitedSince, now, limits);
  ledger.holds.push({ id, until: now + timings.holdMaxInMs, recipients, ...(quota && { caller: quota.caller }) });
  return { ok: true };
}

/**
 * When a caller over its share of the minute may take a slot the window still has: once the slots
 * kept for callers under their share that wait for one are taken, or their wait lapses. A caller
 * under its share, or with room beyond those kept, goes now (undefined).
 */
function fairShareFreesAt(
  ledger: BudgetLedger,
  share: CallerShare,
  minute: number,
  now: number,
  limits: BudgetLimits,
): number | undefined {
  const shares = sharesOf(ledger, share, now, limits);
  if (callerMinuteUsed(ledger, share.caller) < shares.get(share.caller)!) return undefined;
  const reserved = reservedForOthers(ledger, share, shares, now);
  const free = limits.ratePerWindow - minute;
  if (free > reserved.slots) return undefined;
  return Math.min(reserved.until, minuteFreesAt(ledger, reserved.slots - free + 1, now, limits));
}

/** Ends a hold: a send Exchange may have taken counts from now; a refused one gives its room back. */
export function releaseSend(
  ledger: BudgetLedger,
  id: string,
  accepted: boolean,
  now: number,
  limits: BudgetLimits,
): void {
  const hold = ledger.holds.find((h) => h.id === id);
  if (!hold) return; // lapsed already, and counted as completed then
  ledger.holds = ledger.holds.filter((h) => h !== hold);
  if (accepted) complete(ledger, hold, now, limits);
}

/**
 * A session for `waiter` (one instance) if one is free and no instance that asked earlier still
 * waits for it; else the waiter's place in line is kept (for `wantTtlInMs`, renewed as it asks again).
 */
export function takeLease(
  ledger: BudgetLedger,
  now: number,
  limits: BudgetLimits,
  timings: LedgerTimings,
  id: string,
  kind: 'send' | 'check',
  waiter: string,
): Verdict {
  const cap = kind === 'send' ? Math.max(1, limits.maxConnections - 1) : limits.maxConnections;
  const held = kind === 'send' ? ledger.leases.filter((l) => l.kind === 'send').length : ledger.leases.length;
  const free = Math.min(cap - held, limits.maxConnections - ledger.leases.length);
  const wants = (ledger.wants ??= []);
  const mine = wants.find((w) => w.id === waiter);
  // the health check takes the session kept for it, and stands in no line
  const ahead =
    kind === 'check' ? 0 : mine ? wants.filter((w) => w !== mine && w.since <= mine.since).length : wants.length;
  if (free <= ahead) {
    if (kind === 'send') {
      // renewed only when half its time is gone: a waiter that asks often need not write each time
      if (mine && mine.until - now < wantTtlInMs / 2) mine.until = now + wantTtlInMs;
      else if (!mine) wants.push({ id: waiter, since: now, until: now + wantTtlInMs });
    }
    // when room comes at the latest: once enough of the leases in the way lapse unrenewed (a
    // crashed holder's do; a live holder hands one over sooner, after its turn), and, for a send,
    // once the minute has room too: whichever is later binds
    const inTheWay =
      kind === 'send' && cap - held <= limits.maxConnections - ledger.leases.length
        ? ledger.leases.filter((l) => l.kind === 'send')
        : ledger.leases;
    const expiries = inTheWay.map((l) => l.until).sort((a, b) => a - b);
    const sessionAt = expiries[Math.min(ahead - free, expiries.length - 1)] ?? now;
    const minute = minuteUsed(ledger);
    const minuteAt =
      kind === 'send' && minute >= limits.ratePerWindow
        ? minuteFreesAt(ledger, minute - limits.ratePerWindow + 1, now, limits)
        : now;
    return { ok: false, limit: 'connections', retryAt: Math.max(sessionAt, minuteAt) };
  }
  ledger.wants = wants.filter((w) => w !== mine);
  ledger.leases.push({ id, until: now + timings.leaseTtlInMs, kind });
  return { ok: true };
}

/** Whether an instance other than `waiter` waits for a session. */
export function othersWant(ledger: BudgetLedger | undefined, waiter: string, now: number): boolean {
  return (ledger?.wants ?? []).some((w) => w.id !== waiter && w.until > now);
}

/** A waiter that stops asking (it found a session of its own, or died) leaves the line after this. */
export const wantTtlInMs = 3000;

/**
 * Renews the leases named in `ids` that are still in the ledger, and returns the ones that are not:
 * another instance dropped them as lapsed and may hold their sessions now. A renewal never brings
 * one back. One that lapsed but is still there is renewed: no instance can have taken its room
 * without a write that dropped it, and its session is still open (dropping it here would free
 * room while the connection lives).
 */
export function renewLeases(
  ledger: BudgetLedger,
  ids: ReadonlySet<string>,
  now: number,
  timings: LedgerTimings,
): Set<string> {
  const lost = new Set(ids);
  for (const lease of ledger.leases) {
    if (!ids.has(lease.id)) continue;
    lease.until = now + timings.leaseTtlInMs;
    lost.delete(lease.id);
  }
  return lost;
}

export function releaseLease(ledger: BudgetLedger, id: string): void {
  ledger.leases = ledger.leases.filter((l) => l.id !== id);
}

function complete(
  ledger: BudgetLedger,
  hold: { recipients: number; caller?: string },
  at: number,
  limits: BudgetLimits,
): void {
  countToCaller(ledger, hold, at, limits);
  if (hold.caller) countMinuteToCaller(ledger, hold.caller, roundUp(at, sendGranularity(limits)));
  addTo(ledger.sends, roundUp(at, sendGranularity(limits)), 1);
  const hour = hourOf(limits);
  addTo(ledger.hours, Math.floor(at / hour) * hour, hold.recipients);
}

function addTo(buckets: [number, number][], at: number, n: number): void {
  const bucket = buckets.find(([t]) => t === at);
  if (bucket) bucket[1] += n;
  else {
    buckets.push([at, n]);
    buckets.sort((a, b) => a[0] - b[0]);
  }
}

/** The soonest time `excess` counted sends can have left the window. */
function minuteFreesAt(ledger: BudgetLedger, excess: number, now: number, limits: BudgetLimits): number {
  const leaving = [
    ...ledger.sends.map(([at, n]) => [at + limits.windowInMs, n] as const),
    // a send under way leaves the window a window after it completes: now at the soonest, and the
    // caller looks again then
    ...ledger.holds.map(() => [now + limits.windowInMs, 1] as const),
  ].sort((a, b) => a[0] - b[0]);
  let freed = 0;
  for (const [at, n] of leaving) {
    freed += n;
    if (freed >= excess) return at;
  }
  return now + limits.windowInMs;
}

export function dayFreesAt(
  ledger: BudgetLedger,
  excess: number,
  now: number,
  limits: BudgetLimits,
  timings: LedgerTimings,
): number {
  const hour = hourOf(limits);
  let freed = 0;
  for (const [start, n] of ledger.hours) {
    freed += n;
    if (freed >= excess) return start + hour + limits.dayInMs;
  }
  // sends under way leave the day a day after they complete: now at the soonest, and the caller
  // looks again then (as for the minute). Since a send takes its slot before its session, many can
  // be under way at once, and their worst case (a hold's whole time) would defer the rest for minutes
  for (const hold of ledger.holds) {
    freed += hold.recipients;
    if (freed >= excess) return now + hour + limits.dayInMs;
  }
  return now + timings.holdMaxInMs + hour + limits.dayInMs;
}
