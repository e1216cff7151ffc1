import type { DayPeers } from './day-peers.js';

/** How logs, telemetry, records and dead letters name a caller: its app id (or `function-key`) and display name. Never its token. */
export interface CallerTag {
  id: string;
  name: string;
  /** Its own recipients a rolling day (the policy's), for the shared budget; absent: the mailbox's day (less the others' unused shares). */
  dailyQuota?: number;
  /** Its weight in each mailbox's minute when callers compete, and in its day (the policy's `--share`); absent: 1. */
  share?: number;
  /** The other callers whose unused shares of a mailbox's day it leaves them (day-peers.ts); absent: none. */
  dayPeers?: DayPeers;
}

/** The caller each invocation works for, by the invocation's context (the host's InvocationContext). */
const callers = new WeakMap<object, CallerTag>();

/**
 * Names the caller an invocation works for: every log line written with its context names it
 * (log-event.ts). The budget and telemetry get the caller as an argument. Not AsyncLocalStorage,
 * which names it without any argument: its first use turns on Node's promise hooks for the whole
 * process (Node 20 and 22; async context frames replace them only from Node 24), and every promise of
 * every send then paid for them, about 100 us of CPU a message (docs/benchmark-results.md).
 */
export function bindCaller(context: object, caller: CallerTag): void {
  callers.set(context, caller);
}

/** The caller an invocation works for, if one was bound to its context. */
export function callerOf(context: object): CallerTag | undefined {
  return callers.get(context);
}

/** Only the id and the name, whatever else the caller object holds (its policy stays out of envelopes and records). */
export const tagOf = ({ id, name }: CallerTag): CallerTag => ({ id, name });
