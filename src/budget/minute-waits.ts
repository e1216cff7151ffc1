import type { BudgetLimits } from './budget.js';

/**
 * A run of sends that had to wait because the mailbox's minute had no free slot: `since`, when the
 * first wait of the run began; `last`, when the latest began; `seen`, when a wait last ended in a
 * send. A wait is written by the take that ends it (a granted send writes the ledger anyway), so this
 * costs no storage round trip: a refusal stays a read at most, as before.
 */
export interface MinuteWaits {
  since: number;
  last: number;
  seen: number;
}

/**
 * Waits that begin less than this many windows apart belong to one run, and a run goes on while a
 * wait ended in a send less than this long ago. A mailbox whose callers keep asking for more than
 * its minute has a wait begin, and one end, in every window at least: its slots free as the sends
 * in the window leave it, a window apart at most, and whoever asks while none is free waits for the
 * next (an /api/send up to 20 s, a queued message a sixth of the window). A burst that overflows one
 * window and is gone before the next leaves a gap of two windows and starts a new run.
 */
export const minuteWaitGapInWindows = 1.5;

const gapOf = (limits: BudgetLimits) => limits.windowInMs * minuteWaitGapInWindows;

/** Counts a send that waited for the minute since `waitedSince`, and goes `now`, into the run (or starts a new one). */
export function noteMinuteWait(
  ledger: { minuteWaits?: MinuteWaits },
  waitedSince: number,
  now: number,
  limits: BudgetLimits,
): void {
  const run = ledger.minuteWaits;
  if (!run || waitedSince - run.last > gapOf(limits) || run.since - waitedSince > gapOf(limits)) {
    ledger.minuteWaits = { since: waitedSince, last: waitedSince, seen: now };
    return;
  }
  run.since = Math.min(run.since, waitedSince);
  run.last = Math.max(run.last, waitedSince);
  run.seen = Math.max(run.seen, now);
}

/**
 * How long sends have kept waiting for the mailbox's minute, in ms: from the run's first wait to its
 * latest send, while the run goes on (a wait ended less than the gap ago); undefined when none does.
 */
export function minuteSpentForMs(
  ledger: { minuteWaits?: MinuteWaits },
  now: number,
  limits: BudgetLimits,
): number | undefined {
  const run = ledger.minuteWaits;
  if (!run || now - run.seen > gapOf(limits)) return undefined;
  return run.seen - run.since;
}
