import type { BudgetLimits } from './budget.js';

/** A caller as the minute's fair share sees it: its id and its policy's weight (`--share`). */
export interface CallerShare {
  caller: string;
  weight: number;
}

/**
 * The part of the mailbox's ledger that shares the minute among callers: each caller's completed
 * sends in the window (as `sends`, rounded the same way), its weight, and until when it has work
 * waiting (it was refused a slot and comes back for one).
 */
export interface ShareCounts {
  minuteByCaller?: Record<string, { weight: number; sends: [number, number][]; waitsUntil?: number }>;
  holds: { caller?: string }[];
}

/** A caller's sends in the window, completed and under way. */
export function callerMinuteUsed(ledger: ShareCounts, caller: string): number {
  const sends = (ledger.minuteByCaller?.[caller]?.sends ?? []).reduce((sum, [, n]) => sum + n, 0);
  return sends + ledger.holds.filter((h) => h.caller === caller).length;
}

/**
 * Each competing caller's share of the window: the callers that sent in it, have a send under way
 * or wait for a slot, the asking one included, by weight. Never below one message.
 */
export function sharesOf(
  ledger: ShareCounts,
  asking: CallerShare,
  now: number,
  limits: BudgetLimits,
): Map<string, number> {
  const weights = new Map<string, number>([[asking.caller, asking.weight]]);
  for (const [caller, entry] of Object.entries(ledger.minuteByCaller ?? {})) {
    if (caller === asking.caller) continue;
    const active =
      entry.sends.length > 0 || (entry.waitsUntil ?? 0) > now || ledger.holds.some((h) => h.caller === caller);
    if (active) weights.set(caller, entry.weight);
  }
  const total = [...weights.values()].reduce((sum, w) => sum + w, 0);
  return new Map(
    [...weights].map(([caller, w]) => [caller, Math.max(1, Math.floor((limits.ratePerWindow * w) / total))]),
  );
}

/**
 * Slots of the window kept for other callers that wait for one and are under their share: a caller
 * over its own share may not take them. A caller nobody else competes with keeps the whole window
 * (work-conserving): only a caller that asked and was refused holds room for itself.
 */
export function reservedForOthers(
  ledger: ShareCounts,
  asking: CallerShare,
  shares: Map<string, number>,
  now: number,
): { slots: number; until: number } {
  let slots = 0;
  let until = Infinity;
  for (const [caller, entry] of Object.entries(ledger.minuteByCaller ?? {})) {
    if (caller === asking.caller || (entry.waitsUntil ?? 0) <= now) continue;
    const unmet = (shares.get(caller) ?? 1) - callerMinuteUsed(ledger, caller);
    if (unmet <= 0) continue;
    slots += unmet;
    until = Math.min(until, entry.waitsUntil!);
  }
  return { slots, until };
}

/**
 * Notes that `asking` waits for a slot until `retryAt` (and a little after, to come back): while it
 * does, callers over their share leave it its share. Renewed only when half its time is gone, so a
 * waiter polling often does not write each time.
 */
export function noteWaiting(
  ledger: ShareCounts,
  asking: CallerShare,
  retryAt: number,
  now: number,
  limits: BudgetLimits,
): void {
  const entry = entryOf(ledger, asking);
  const grace = Math.max(1000, limits.windowInMs / 4);
  const wanted = Math.max(retryAt, now) + grace;
  if ((entry.waitsUntil ?? 0) - now < (wanted - now) / 2) entry.waitsUntil = wanted;
}

/**
 * Counts a completed send to its caller's part of the window (at the send's rounded time). Its wait
 * stays until it lapses: the caller's other sends may still be waiting.
 */
export function countMinuteToCaller(ledger: ShareCounts, caller: string, roundedAt: number): void {
  const entry = entryOf(ledger, { caller, weight: ledger.minuteByCaller?.[caller]?.weight ?? 1 });
  const bucket = entry.sends.find(([t]) => t === roundedAt);
  if (bucket) bucket[1] += 1;
  else {
    entry.sends.push([roundedAt, 1]);
    entry.sends.sort((a, b) => a[0] - b[0]);
  }
}

/** Drops sends that left the window, ended waits, and callers with neither (the ledger stays small). */
export function pruneShares(ledger: ShareCounts, now: number, limits: BudgetLimits): void {
  if (!ledger.minuteByCaller) return;
  for (const [caller, entry] of Object.entries(ledger.minuteByCaller)) {
    entry.sends = entry.sends.filter(([at]) => at > now - limits.windowInMs);
    if ((entry.waitsUntil ?? 0) <= now) delete entry.waitsUntil;
    if (entry.sends.length === 0 && entry.waitsUntil === undefined && !ledger.holds.some((h) => h.caller === caller))
      delete ledger.minuteByCaller[caller];
  }
  if (Object.keys(ledger.minuteByCaller).length === 0) delete ledger.minuteByCaller;
}

/** Keeps the caller's weight in the ledger while it has sends in the window, for the others' shares. */
export function entryOf(ledger: ShareCounts, { caller, weight }: CallerShare) {
  const entry = ((ledger.minuteByCaller ??= {})[caller] ??= { weight, sends: [] });
  entry.weight = weight;
  return entry;
}
