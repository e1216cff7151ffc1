import { EventEmitter } from 'node:events';
import { BudgetExhausted, type ConnectionLease, type MailboxBudget } from '../budget/budget.js';
import type { SmtpSession } from './smtp-session.js';

export interface SessionPoolOptions {
  /** The mailbox whose sessions these are: named when its budget makes a send wait too long. */
  mailbox: string;
  /** Where each session's connection lease comes from, shared with every instance. */
  budget: MailboxBudget;
  /** Sessions of this process at most. */
  maxSessions: number;
  /** An idle session closes after this, giving its connection back to every instance. */
  idleInMs: number;
  /** The connection of a new session (smtp-session.ts), opened when it first sends. */
  open: () => SmtpSession;
}

/** One SMTP session: a connection lease from the mailbox's budget, and the connection under it. */
export interface Session {
  lease: ConnectionLease;
  smtp: SmtpSession;
  busy: boolean;
  openedAt: number;
  idleTimer?: NodeJS.Timeout;
}

/**
 * How long a session is kept, at least, when other instances wait for one: long enough that a
 * handover (a new TLS session and AUTH, the closing one's grace) costs little of it, short enough
 * that no instance waits long (the bench's scale-out section: 1 s lost a third of the throughput).
 */
const turnInMs = 3000;
/** How long a closed session's lease is kept, for its QUIT and the socket's end to reach Exchange. */
const closeGraceInMs = 500;
/** How often an idle session looks for instances waiting for it. */
const idleCheckInMs = 500;

/**
 * One mailbox's SMTP sessions in this process. Each session is opened only under a connection
 * lease from the mailbox's budget and ends before its lease goes back; an idle one is handed over
 * to another instance that waits for it, and a lapsed one is never used again.
 *
 * Why sessions of exosend's own rather than nodemailer's pool: a pool opens connections on its
 * own, when it likes; a lease must exist before the connection does and end after it.
 */
export class SessionPool {
  private readonly sessions: Session[] = [];
  private readonly freed = new EventEmitter();
  private opening = 0;
  private closed = false;

  constructor(private readonly options: SessionPoolOptions) {
    this.freed.setMaxListeners(0);
  }

  /**
   * Resolves once this process has a session, busy or idle: opening one, or waiting for another
   * instance to give one up, when it has none. For a send that gave its slot of the minute back
   * rather than hold it through that wait.
   */
  async ready(deadline: number): Promise<void> {
    if (this.sessions.some((s) => s.lease.held())) return;
    this.giveBack(await this.take(deadline));
  }

  /**
   * An idle session of this process, or a new one under a new lease, or the wait for either.
   * `ownOnly`: undefined as soon as this process has no session and cannot open one, instead of
   * the wait for another instance to give one up.
   */
  take(deadline: number): Promise<Session>;
  take(deadline: number, options: { ownOnly: true }): Promise<Session | undefined>;
  async take(deadline: number, { ownOnly = false } = {}): Promise<Session | undefined> {
    const { budget } = this.options;
    // when the budget last said a session would be free at the latest (Retry-After, if none comes in time)
    let roomAt: number | undefined;
    for (;;) {
      if (this.closed) throw new Error('The mailbox transport was closed before this send got a session.');
      for (const lapsed of this.sessions.filter((s) => !s.busy && !s.lease.held())) {
        // its lease was not renewed in time (storage slow or away): another instance may hold it now
        this.sessions.splice(this.sessions.indexOf(lapsed), 1);
        void this.end(lapsed);
      }
      const idle = this.sessions.find((s) => !s.busy);
      if (idle) {
        idle.busy = true;
        clearTimeout(idle.idleTimer);
        return idle;
      }
      if (this.sessions.length + this.opening < this.options.maxSessions) {
        this.opening++;
        try {
          // no wait here: a session of this process may come free meanwhile, and it is cheaper
          const lease = await budget.takeConnection('send', { waitUpToMs: 0 });
          if (this.closed) {
            await lease.release(); // taken while the instance stopped: no session opens under it
            continue;
          }
          const session: Session = { lease, smtp: this.options.open(), busy: true, openedAt: Date.now() };
          this.sessions.push(session);
          return session;
        } catch (error) {
          if (!(error instanceof BudgetExhausted)) throw error;
          roomAt = Date.now() + error.retryAfterSeconds * 1000;
        } finally {
          this.opening--;
        }
      }
      if (ownOnly && this.sessions.length + this.opening === 0) return undefined;
      const now = Date.now();
      const left = deadline - now;
      // without word from the budget, the sessions in the way are this process's own: one frees soon
      if (left <= 0)
        throw new BudgetExhausted(
          this.options.mailbox,
          'connections',
          Math.max(1, Math.ceil(((roomAt ?? now) - now) / 1000)),
        );
      await sleepOrEvent(this.freed, 'freed', Math.min(left, 250));
    }
  }

  giveBack(session: Session): void {
    const { budget } = this.options;
    session.busy = false;
    if (!this.sessions.includes(session)) return; // ended by stop() while it sent
    if (this.closed || (budget.othersWaitForConnection() && Date.now() - session.openedAt >= turnInMs)) {
      // its turn is over: another instance gets the session (this one's callers queue up behind it)
      this.sessions.splice(this.sessions.indexOf(session), 1);
      void this.end(session);
      this.freed.emit('freed');
      return;
    }
    const idleSince = Date.now();
    // an idle session looks now and then whether another instance waits for it, and ends if so
    const watch = () => {
      // the check runs detached from the timer; it catches what it awaits itself
      session.idleTimer = setTimeout(() => void checkIdle(), Math.min(idleCheckInMs, this.options.idleInMs));
      session.idleTimer.unref();
    };
    const checkIdle = async () => {
      if (session.busy || !this.sessions.includes(session)) return;
      const expired = Date.now() - idleSince >= this.options.idleInMs;
      if (!expired) await budget.refresh().catch(() => undefined);
      if (session.busy || !this.sessions.includes(session)) return;
      if (!expired && !budget.othersWaitForConnection()) return watch();
      this.sessions.splice(this.sessions.indexOf(session), 1);
      void this.end(session);
    };
    watch();
    this.freed.emit('freed');
  }

  /**
   * Ends every session and gives its lease back: resolves once storage has them all. A send under
   * way on a session has a moment for its answer (smtp-session.ts, close), then its connection is cut;
   * a waiting one fails at once, and no session opens any more.
   */
  stop({ keepAlive }: { keepAlive: boolean }): Promise<void> {
    this.closed = true;
    const ending = this.sessions.splice(0).map((session) => this.end(session, keepAlive));
    this.freed.emit('freed');
    return Promise.all(ending).then(() => undefined);
  }

  /**
   * Closes the connection first, then gives the lease back: Exchange must never see more sessions
   * than leases. `keepAlive`: the process waits for it (a stopping instance), else it may exit first.
   */
  private async end(session: Session, keepAlive = false): Promise<void> {
    clearTimeout(session.idleTimer);
    // QUIT once any send under way has its answer (or is cut off), and the socket's end
    await session.smtp.close();
    // and a moment for Exchange to see it before the lease goes
    await new Promise((resolve) => {
      const grace = setTimeout(resolve, closeGraceInMs);
      if (!keepAlive) grace.unref();
    });
    await session.lease.release();
  }
}

/**
 * Resolves on the event or after `ms`, whichever comes first. A plain listener and timer: an
 * AbortController here made a DOMException (with its stack) on every wake-up, and every waiting
 * send wakes each time a session is given back (about 100 us a message with 8 callers, by profile).
 */
function sleepOrEvent(emitter: EventEmitter, event: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      emitter.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    emitter.on(event, done);
  });
}
