import type { BudgetLimits } from './budget.js';

/**
 * A run of sends that had to wait because the mailbox's minute had no free slot: `since`, when the
 * first wait of the run began; `seen`, when a wait last ended in a send. A wait is written by the
 * take that ends it (a granted send writes the ledger anyway), so this costs no storage round trip:
 * a refusal stays a read at most, as before.
 */
export interface MinuteWaits {
  since: number;
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

/**
 * Counts a send that waited for the minute from `waitedSince` until `now` into the run, or starts a
 * new one. The wait joins the run when the two spans overlap or come within the gap of each other,
 * in whichever order the waits end: the mailbox's free slot goes to whichever waiter takes it first,
 * so a wait that began first often ends last, and a run that only took waits beginning near its
 * latest restarted on each of those (a minute spent for 8 windows read as 4 s, under load).
 */
export function noteMinuteWait(
  ledger: { minuteWaits?: MinuteWaits },
  waitedSince: number,
  now: number,
  limits: BudgetLimits,
): void {
  const run = ledger.minuteWaits;
  if (!run || waitedSince - run.seen > gapOf(limits)) {
    ledger.minuteWaits = { since: waitedSince, seen: now };
    return;
  }
  // written late (another instance's clock behind): a wait that ended that long before the run began says nothing of it
  if (run.since - now > gapOf(limits)) return;
  run.since = Math.min(run.since, waitedSince);
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
