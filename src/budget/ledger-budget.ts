import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import {
  BudgetExhausted,
  type BudgetLimits,
  type BudgetUsage,
  type ConnectionLease,
  type MailboxBudget,
  type SendPermit,
  type TakeOptions,
} from './budget.js';
import * as rules from './ledger.js';
import { minuteSpentForMs } from './minute-waits.js';
import { callerUsageOf, type CallerUsage } from './caller-usage.js';
import type { CallerQuota } from './caller-quota.js';
import type { BudgetLedger, LedgerTimings, Verdict } from './ledger.js';

export interface LedgerBudgetOptions {
  mailbox: string;
  limits: BudgetLimits;
  timings?: Partial<LedgerTimings>;
}

/** A send lasts at most this long: nodemailer's timeouts end it sooner. */
export const defaultHoldMaxInMs = 5 * 60_000;
/**
 * A crashed instance's SMTP sessions come back within this: well inside a caller's wait for a
 * session (/api/send waits 20 s). A live holder renews every third of it (see `renewal`).
 */
export const defaultLeaseTtlInMs = 15_000;

/**
 * The budget rules (ledger.ts) over a ledger kept somewhere: in this process (LocalBudget)
 * or in Table storage for every instance (TableBudget). Takes wait while the budget can have room
 * before the caller's deadline, and fail at once when it cannot.
 */
export abstract class LedgerBudget implements MailboxBudget {
  readonly mailbox: string;
  protected readonly limits: BudgetLimits;
  protected readonly timings: LedgerTimings;
  /** Leases this process holds, renewed together, with when each was last stored as renewed. */
  private readonly leases = new Map<string, number>();
  private readonly renewal: NodeJS.Timeout;
  /** 'freed' when this process gave something back: a local waiter may have room now. */
  private readonly changes = new EventEmitter();
  /** This instance, as it stands in line for a session. */
  protected readonly waiter = randomUUID();
  private closed = false;
  private renewed = 0;
  abstract readonly roundTrips: number;
  abstract readonly scope: BudgetUsage['scope'];

  constructor(options: LedgerBudgetOptions) {
    this.mailbox = options.mailbox;
    this.limits = options.limits;
    this.timings = { holdMaxInMs: defaultHoldMaxInMs, leaseTtlInMs: defaultLeaseTtlInMs, ...options.timings };
    this.changes.setMaxListeners(0);
    // one write renews every lease this instance holds for the mailbox; an instance that holds
    // none (idle sessions end after 30 s) writes nothing
    this.renewal = setInterval(
      () => {
        if (this.leases.size === 0) return;
        const ids = new Set(this.leases.keys());
        const asked = Date.now();
        this.transact((ledger, now) => rules.renewLeases(ledger, ids, now, this.timings))
          .then((lost) => {
            this.renewed++;
            // a lost lease's session must end before it sends again: `held` says no from now on
            for (const id of ids) {
              if (!this.leases.has(id)) continue;
              if (lost.has(id)) this.leases.delete(id);
              else this.leases.set(id, asked);
            }
          })
          .catch(() => undefined);
      },
      Math.max(50, Math.floor(this.timings.leaseTtlInMs / 3)),
    );
    this.renewal.unref();
  }

  /** Renewals of this instance's leases so far; in storage, each is one write of `roundTrips` (docs/budget.md: their cost). */
  get renewals(): number {
    return this.renewed;
  }

  /** Applies `change` to the current ledger atomically; resolves once it is stored. */
  protected abstract transact<T>(change: (ledger: BudgetLedger, now: number) => T): Promise<T>;

  async takeSend(recipients: number, options: TakeOptions): Promise<SendPermit> {
    const id = randomUUID();
    // the caller the send is for (from the caller check, or the queue trigger), with its own daily quota
    const { caller } = options;
    // and the other callers that may send from this mailbox, whose unused shares of its day it leaves them
    const others = await caller?.dayPeers?.(this.mailbox);
    const quota = caller && {
      caller: caller.id,
      dailyQuota: caller.dailyQuota,
      ...(others && { dayShare: { weight: caller.share ?? 1, others } }),
    };
    // and its weight in the minute when callers compete for it (fair-share.ts)
    const share = caller && { caller: caller.id, weight: caller.share ?? 1 };
    // when the mailbox's minute first had no slot for it: the grant's own write records the wait, for health
    let waitedSince: number | undefined;
    await this.waitFor(options, () =>
      this.transact((ledger, now) =>
        this.pruned(ledger, now, () =>
          rules.takeSend(ledger, now, this.limits, this.timings, id, recipients, quota, share, waitedSince),
        ),
      ).then((verdict) => {
        if (!verdict.ok && verdict.full) waitedSince ??= Date.now();
        return verdict;
      }),
    );
    let released = false;
    return {
      release: (accepted) => {
        if (released) return;
        released = true;
        this.transact((ledger, now) => rules.releaseSend(ledger, id, accepted, now, this.limits))
          .then(() => this.changes.emit('freed'))
          .catch(() => undefined); // not stored: the hold lapses by itself at its `until`
      },
    };
  }

  async takeConnection(kind: 'send' | 'check', options: TakeOptions): Promise<ConnectionLease> {
    const id = randomUUID();
    const asked = Date.now();
    await this.waitFor(options, () =>
      this.transact((ledger, now) =>
        this.pruned(ledger, now, () => rules.takeLease(ledger, now, this.limits, this.timings, id, kind, this.waiter)),
      ),
    );
    this.leases.set(id, asked);
    let released = false;
    return {
      // a third of the lease is left at least: the next renewal is due before then
      held: () => !released && Date.now() - (this.leases.get(id) ?? 0) < (this.timings.leaseTtlInMs * 2) / 3,
      release: async () => {
        if (released) return;
        released = true;
        this.leases.delete(id);
        await this.transact((ledger) => rules.releaseLease(ledger, id))
          .then(() => this.changes.emit('freed'))
          .catch(() => undefined); // not stored: the lease lapses by itself, unrenewed
      },
    };
  }

  async usage(): Promise<BudgetUsage> {
    const { limits } = this;
    return this.transact((ledger, now) => {
      rules.prune(ledger, now, limits);
      const day = rules.dayUsed(ledger);
      const spent = day >= limits.recipientsPerDay;
      const minuteSpentFor = minuteSpentForMs(ledger, now, limits);
      return {
        mailbox: this.mailbox,
        scope: this.scope,
        minute: {
          used: rules.minuteUsed(ledger),
          limit: limits.ratePerWindow,
          windowSeconds: limits.windowInMs / 1000,
          ...(minuteSpentFor !== undefined && { spentForSeconds: Math.floor(minuteSpentFor / 1000) }),
        },
        connections: { used: ledger.leases.length, limit: limits.maxConnections },
        day: {
          used: day,
          limit: limits.recipientsPerDay,
          windowHours: limits.dayInMs / 3_600_000,
          ...(spent && {
            freesInSeconds: Math.max(
              1,
              Math.ceil(
                (rules.dayFreesAt(ledger, day - limits.recipientsPerDay + 1, now, limits, this.timings) - now) / 1000,
              ),
            ),
          }),
        },
      };
    });
  }

  async callerUsage(callers: readonly (CallerQuota & { weight: number })[]): Promise<CallerUsage[]> {
    return this.transact((ledger, now) => {
      rules.prune(ledger, now, this.limits);
      return callerUsageOf(ledger, callers, now, this.limits);
    });
  }

  async refresh(): Promise<void> {
    await this.transact(() => undefined);
  }

  /** Whether, by the ledger as last seen, another instance waits for one of the mailbox's sessions. */
  abstract othersWaitForConnection(): boolean;

  /**
   * Fails every take still waiting: once its transport is closed nothing more is sent, and a wait
   * up to the caller's deadline would keep the process alive for nothing.
   */
  close(): void {
    clearInterval(this.renewal);
    this.closed = true;
    this.changes.emit('freed');
  }

  private pruned(ledger: BudgetLedger, now: number, take: () => Verdict): Verdict {
    rules.prune(ledger, now, this.limits);
    return take();
  }

  private async waitFor(options: TakeOptions, attempt: () => Promise<Verdict>): Promise<void> {
    const deadline = Date.now() + options.waitUpToMs;
    for (;;) {
      if (this.closed) throw new Error('The mailbox transport was closed before this send got its slot.');
      const verdict = await attempt();
      if (verdict.ok) return;
      if (this.closed) throw new Error('The mailbox transport was closed before this send got its slot.');
      const now = Date.now();
      // sessions are given back at any moment, by any instance: look again soon
      const poll =
        verdict.limit === 'connections' ? Math.min(1000, Math.max(20, this.timings.leaseTtlInMs / 20)) : Infinity;
      const wakeAt = Math.min(verdict.retryAt, now + poll);
      if (verdict.retryAt > deadline && wakeAt > deadline) {
        const spreadInMs =
          verdict.limit === 'minute'
            ? this.limits.windowInMs
            : verdict.limit === 'day' || verdict.limit === 'quota' || verdict.limit === 'share'
              ? this.limits.dayInMs / 24
              : 1000;
        const retryAfterSeconds = Math.max(1, Math.ceil((Math.max(verdict.retryAt, now + 1) - now) / 1000));
        throw new BudgetExhausted(
          this.mailbox,
          verdict.limit,
          retryAfterSeconds,
          Math.max(1, Math.ceil(spreadInMs / 1000)),
        );
      }
      await sleepOrFreed(this.changes, Math.max(1, Math.min(wakeAt, deadline) - now));
    }
  }
}

async function sleepOrFreed(changes: EventEmitter, ms: number): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    await once(changes, 'freed', { signal: abort.signal });
  } catch {
    // the time is up
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
