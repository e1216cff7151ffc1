import { AsyncLocalStorage } from 'node:async_hooks';
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

const scope = new AsyncLocalStorage<CallerTag>();

/**
 * Runs `work` on behalf of a caller: every log line and telemetry event written inside it, however
 * deep, names that caller, without each step of the send story having to pass it along.
 */
export function inCallerScope<T>(caller: CallerTag, work: () => T): T {
  return scope.run(
    {
      id: caller.id,
      name: caller.name,
      ...(caller.dailyQuota !== undefined && { dailyQuota: caller.dailyQuota }),
      ...(caller.share !== undefined && { share: caller.share }),
      ...(caller.dayPeers && { dayPeers: caller.dayPeers }),
    },
    work,
  );
}

/** The caller the current work is done for, if any. */
export function currentCaller(): CallerTag | undefined {
  return scope.getStore();
}

/** Only the id and the name, whatever else the caller object holds (its policy stays out of envelopes and records). */
export const tagOf = ({ id, name }: CallerTag): CallerTag => ({ id, name });
