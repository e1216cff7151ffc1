import type { AcceptedMessage } from '../local/sandbox/index.js';

/** The most of `weights` that fall in any window of `windowInMs` ((t - window, t], as the stand-in counts). */
export function maxInSlidingWindow(events: readonly { at: number; weight?: number }[], windowInMs: number): number {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  let max = 0;
  let sum = 0;
  for (let start = 0, end = 0; end < sorted.length; end++) {
    sum += sorted[end]!.weight ?? 1;
    while (sorted[start]!.at <= sorted[end]!.at - windowInMs) sum -= sorted[start++]!.weight ?? 1;
    max = Math.max(max, sum);
  }
  return max;
}

/** Per mailbox: the most messages, and the most recipients, Exchange accepted in any window. */
export function busiestWindows(messages: readonly AcceptedMessage[], mailbox: string, windowInMs: number) {
  const mine = messages.filter((m) => m.mailbox === mailbox);
  return {
    messages: maxInSlidingWindow(
      mine.map((m) => ({ at: m.receivedAt.getTime() })),
      windowInMs,
    ),
    recipients: maxInSlidingWindow(
      mine.map((m) => ({ at: m.receivedAt.getTime(), weight: m.envelope.rcptTo.length })),
      windowInMs,
    ),
  };
}
