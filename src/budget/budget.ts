import type { CallerTag } from '../auth/caller-scope.js';
/** What Exchange counts per mailbox, as exosend holds it: the window lengths shorten only for tests and the bench. */
export interface BudgetLimits {
  /** Messages in any sliding window of `windowInMs` (Exchange: 30 a minute). */
  ratePerWindow: number;
  windowInMs: number;
  /** SMTP sessions at once; sends share all but one, which stays free for the health check's own. */
  maxConnections: number;
  /** Recipients (each To, Cc and Bcc) in a rolling day (Exchange: 10,000 in 24 h). */
  recipientsPerDay: number;
  dayInMs: number;
}

/** Which of the mailbox's limits made a message wait. */
export const budgetLimits = ['minute', 'day', 'connections', 'quota', 'share'] as const;
export type BudgetLimit = (typeof budgetLimits)[number];

/** `error.code` of every answer that says the mailbox's budget is spent (429 from /api/send). */
export const budgetSpentCode = 'MAILBOX_BUDGET_SPENT';

/** The right to submit one message; `release` says whether Exchange may have taken it. */
export interface SendPermit {
  /** `accepted: false` only when Exchange answered with a refusal: the message did not count. */
  release(accepted: boolean): void;
}

/** The right to hold one SMTP session open; renewed while held, given back on close. */
export interface ConnectionLease {
  /** Resolves once the lease is given back in storage (or could not be: then it lapses unrenewed). */
  release(): Promise<void>;
  /**
   * Whether the lease is surely still held: renewed recently enough that no other instance can
   * have taken it. A session whose lease is not must end before it sends again.
   */
  held(): boolean;
}

export interface BudgetUsage {
  mailbox: string;
  /** 'shared': counted in storage across every instance; 'local': this process only (no storage set). */
  scope: 'shared' | 'local';
  /**
   * `spentForSeconds`: only while sends wait for the minute, how long they have kept waiting (from
   * the first wait of the run to the latest; minute-waits.ts). Health calls it saturated past 5 windows.
   */
  minute: { used: number; limit: number; windowSeconds: number; spentForSeconds?: number };
  connections: { used: number; limit: number };
  /** `freesInSeconds`: only when the day is spent, how soon one recipient fits again (GET /api/health's budget diagnosis). */
  day: { used: number; limit: number; windowHours: number; freesInSeconds?: number };
}

export interface TakeOptions {
  /** Wait at most this long for the budget; a wait that would be longer fails at once. */
  waitUpToMs: number;
  /** The caller a send is for, with its daily quota, share and day peers (takeSend only); absent: the mailbox's budget alone. */
  caller?: CallerTag;
}

/** One mailbox's budget, as every instance of the app shares it (or one process alone, without storage). */
export interface MailboxBudget {
  readonly mailbox: string;
  takeSend(recipients: number, options: TakeOptions): Promise<SendPermit>;
  /** 'send' sessions share all but one connection; 'check' (the health check) may take the last. */
  takeConnection(kind: 'send' | 'check', options: TakeOptions): Promise<ConnectionLease>;
  usage(): Promise<BudgetUsage>;
  /** Another instance waits for a session: a holder gives one up once it has had its turn. */
  othersWaitForConnection(): boolean;
  /** Reads the ledger again if this instance's copy is not fresh (for othersWaitForConnection). */
  refresh(): Promise<void>;
  /** Storage reads and writes made so far (0 for a local budget): the shared budget's cost. */
  readonly roundTrips: number;
  /** Renewals of this instance's leases so far: in storage, each is one write of `roundTrips`. */
  readonly renewals: number;
  close(): void;
}

/**
 * The mailbox's budget is spent for longer than the caller can wait: not a failure of the message.
 * A queued message goes back with a delay, not counted as a try; /api/send answers 429.
 */
export class BudgetExhausted extends Error {
  override readonly name = 'BudgetExhausted';
  readonly code = budgetSpentCode;
  constructor(
    readonly mailbox: string,
    readonly limit: BudgetLimit,
    /** When the budget is expected to have room again: never less than a second. */
    readonly retryAfterSeconds: number,
    /** Over how long the messages that wait for this limit may be spread, so they do not all come back at once. */
    readonly spreadSeconds = 1,
  ) {
    super(`The budget of mailbox ${mailbox} is spent (${limit}); room again in about ${retryAfterSeconds} s.`);
  }
}

/** Recipients as Exchange counts them against the daily limit: every To, Cc and Bcc address. */
export function countRecipients(message: { to?: unknown; cc?: unknown; bcc?: unknown }): number {
  const count = (field: unknown) => (Array.isArray(field) ? field.length : field ? 1 : 0);
  return count(message.to) + count(message.cc) + count(message.bcc);
}
