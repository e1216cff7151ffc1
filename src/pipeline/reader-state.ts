import type { Diagnosis } from '../diagnosis/diagnosis.js';
import type { RecipientOutcome } from '../queue/apply-report.js';

export interface MailboxRead {
  mailbox: string;
  ok: boolean;
  code?: string;
  diagnosis?: Diagnosis;
  /** Another instance holds the mailbox, or Graph asked to wait (Retry-After): no request was made. */
  skipped?: 'leased' | 'throttled';
  /** Requests made to Graph (delta pages and `$value` reads). */
  requests: number;
  /** Messages that looked like delivery reports and were fetched. */
  reports: number;
  outcomes: RecipientOutcome[];
}

export interface ReaderRun {
  at: string;
  ok: boolean;
  mailboxes: MailboxRead[];
}

let last: ReaderRun | undefined;

/** The delivery reports reader's last run in this process, for the health check's result. */
export function recordReaderRun(run: ReaderRun): void {
  last = run;
}

export function lastReaderRun(): ReaderRun | undefined {
  return last;
}

/**
 * The reader's state in a word, as the health check's availability result carries it (`reader`):
 * `ok`, the diagnosis code of the first mailbox that failed, or `not-run` before its first tick
 * in this process.
 */
export function readerState(run = last): string {
  if (!run) return 'not-run';
  return run.mailboxes.find((m) => !m.ok)?.code ?? 'ok';
}
