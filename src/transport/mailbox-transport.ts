import { EventEmitter, once } from 'node:events';
import nodemailer, { type SendMailOptions, type SMTPPoolSentMessageInfo, type Transporter } from 'nodemailer';
import type { TokenProvider } from '../auth/token-provider.js';
import { BudgetExhausted, countRecipients, type ConnectionLease, type MailboxBudget } from '../budget/budget.js';
import { LocalBudget } from '../budget/local-budget.js';
import type { ExosendConfig } from '../config/load-config.js';
import { classifySmtpError } from '../diagnosis/classify.js';
import { DeliveryFailed } from '../diagnosis/failures.js';

export type MailboxTransportOptions = Pick<
  ExosendConfig,
  'smtp' | 'mailbox' | 'maxConnections' | 'ratePerMinute' | 'tenantId' | 'clientId' | 'scope'
> & {
  /** The window `ratePerMinute` is counted over: a minute, as Exchange counts; shorter only to keep a benchmark short. */
  pacingWindowInMs?: number;
  /** The mailbox's budget; without one, a budget of this process alone (no storage to share it). */
  budget?: MailboxBudget;
  /** An idle session closes after this, giving its connection back to every instance. */
  sessionIdleInMs?: number;
};

export interface Delivery {
  messageId: string;
  accepted: string[];
  rejected: string[];
  response: string;
}

export interface SendOptions {
  /** How long the send may wait for the mailbox's budget (a connection, the minute, the day). */
  waitUpToMs?: number;
}

const defaultWaitInMs = 30_000;

/** One SMTP session: a connection lease from the mailbox's budget, and a nodemailer pool of one connection under it. */
interface Session {
  lease: ConnectionLease;
  transporter: Transporter<SMTPPoolSentMessageInfo>;
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
 * One mailbox's way to Exchange: SMTP sessions (STARTTLS required, TLS 1.2+, verified
 * certificates) that authenticate with XOAUTH2 tokens from the token cache. Each session is
 * opened only under a connection lease from the mailbox's budget, and each message goes out only
 * under a send permit from it, so that every instance together stays within the mailbox's limits.
 *
 * Why a pool of one per lease rather than one nodemailer pool: a pool opens connections on its
 * own, when it likes; a lease must exist before the connection does and end after it.
 */
export class MailboxTransport {
  readonly budget: MailboxBudget;
  private readonly sessions: Session[] = [];
  private readonly freed = new EventEmitter();
  private opening = 0;
  private closed = false;
  private lastToken: string | undefined;
  /** One connection stays free for the health check's own session (see takeLease). */
  private readonly maxSendSessions: number;
  private readonly sessionIdleInMs: number;

  constructor(
    private readonly options: MailboxTransportOptions,
    private readonly tokens: TokenProvider,
  ) {
    this.maxSendSessions = Math.max(1, options.maxConnections - 1);
    this.sessionIdleInMs = options.sessionIdleInMs ?? 30_000;
    this.freed.setMaxListeners(0);
    this.budget =
      options.budget ??
      new LocalBudget({
        mailbox: options.mailbox,
        limits: {
          ratePerWindow: options.ratePerMinute,
          windowInMs: options.pacingWindowInMs ?? 60_000,
          maxConnections: options.maxConnections,
          recipientsPerDay: Number.MAX_SAFE_INTEGER,
          dayInMs: 24 * 60 * 60 * 1000,
        },
      });
  }

  async send(message: SendMailOptions, options: SendOptions = {}): Promise<Delivery> {
    const deadline = Date.now() + (options.waitUpToMs ?? defaultWaitInMs);
    const session = await this.session(deadline);
    try {
      const permit = await this.budget.takeSend(countRecipients(message), { waitUpToMs: Math.max(0, deadline - Date.now()) });
      let accepted = true;
      try {
        return await this.sendWithFreshToken(session, message);
      } catch (error) {
        accepted = !refusedByExchange(error);
        throw error;
      } finally {
        permit.release(accepted);
      }
    } finally {
      this.giveBack(session);
    }
  }

  close(): void {
    this.closed = true;
    for (const session of this.sessions.splice(0)) this.end(session);
    this.budget.close();
    this.freed.emit('freed');
  }

  private async sendWithFreshToken(session: Session, message: SendMailOptions): Promise<Delivery> {
    try {
      return await sendOnce(session, message);
    } catch (error) {
      if (!isAuthRefusal(error) || !this.lastToken) throw this.failure(error, message);
      // Exchange refused the token: drop it and try once with a new one.
      this.tokens.invalidate(this.lastToken);
      return await sendOnce(session, message).catch((retryError: unknown) => {
        throw this.failure(retryError, message);
      });
    }
  }

  /** An idle session of this process, or a new one under a new lease, or the wait for either. */
  private async session(deadline: number): Promise<Session> {
    for (;;) {
      if (this.closed) throw new Error('The mailbox transport was closed before this send got a session.');
      for (const lapsed of this.sessions.filter((s) => !s.busy && !s.lease.held())) {
        // its lease was not renewed in time (storage slow or away): another instance may hold it now
        this.sessions.splice(this.sessions.indexOf(lapsed), 1);
        this.end(lapsed);
      }
      const idle = this.sessions.find((s) => !s.busy);
      if (idle) {
        idle.busy = true;
        clearTimeout(idle.idleTimer);
        return idle;
      }
      if (this.sessions.length + this.opening < this.maxSendSessions) {
        this.opening++;
        try {
          // no wait here: a session of this process may come free meanwhile, and it is cheaper
          const lease = await this.budget.takeConnection('send', { waitUpToMs: 0 });
          const session: Session = { lease, transporter: this.createTransporter(), busy: true, openedAt: Date.now() };
          this.sessions.push(session);
          return session;
        } catch (error) {
          if (!(error instanceof BudgetExhausted)) throw error;
        } finally {
          this.opening--;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new BudgetExhausted(this.options.mailbox, 'connections', 1);
      await sleepOrEvent(this.freed, 'freed', Math.min(left, 250));
    }
  }

  private giveBack(session: Session): void {
    session.busy = false;
    if (this.closed || (this.budget.othersWaitForConnection() && Date.now() - session.openedAt >= turnInMs)) {
      // its turn is over: another instance gets the session (this one's callers queue up behind it)
      this.sessions.splice(this.sessions.indexOf(session), 1);
      this.end(session);
      this.freed.emit('freed');
      return;
    }
    const idleSince = Date.now();
    // an idle session looks now and then whether another instance waits for it, and ends if so
    const watch = () => {
      session.idleTimer = setTimeout(() => void (async () => {
        if (session.busy || !this.sessions.includes(session)) return;
        const expired = Date.now() - idleSince >= this.sessionIdleInMs;
        if (!expired) await this.budget.refresh().catch(() => undefined);
        if (session.busy || !this.sessions.includes(session)) return;
        if (!expired && !this.budget.othersWaitForConnection()) return watch();
        this.sessions.splice(this.sessions.indexOf(session), 1);
        this.end(session);
      })(), Math.min(idleCheckInMs, this.sessionIdleInMs));
      session.idleTimer.unref();
    };
    watch();
    this.freed.emit('freed');
  }

  /** Closes the connection first, then gives the lease back: Exchange must never see more sessions than leases. */
  private end(session: Session): void {
    clearTimeout(session.idleTimer);
    session.transporter.close();
    // nodemailer's close sends QUIT and lets the socket end: give it time before the lease goes
    setTimeout(() => session.lease.release(), closeGraceInMs).unref();
  }

  private createTransporter(): Transporter<SMTPPoolSentMessageInfo> {
    const { options } = this;
    const transporter = nodemailer.createTransport({
      pool: true,
      maxConnections: 1,
      host: options.smtp.host,
      port: options.smtp.port,
      secure: false,
      requireTLS: true,
      // AUTH even if a server does not offer it: a message must never leave unauthenticated
      forceAuth: true,
      tls: { minVersion: 'TLSv1.2' }, // nodemailer sends the host as SNI when it is a name
      // exosend decides about retries: a silent resend after a dropped connection could send twice
      maxRequeues: 0,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
      auth: { type: 'OAuth2', user: options.mailbox },
    });
    transporter.set('oauth2_provision_cb', (_user: string, _renew: boolean, done: ProvisionDone) => {
      this.tokens.getToken().then(
        ({ token }) => {
          this.lastToken = token;
          // an expiry already past keeps nodemailer from caching: each new connection asks the token cache
          done(null, token, Date.now());
        },
        (error: unknown) => done(error as Error),
      );
    });
    return transporter;
  }

  private failure(error: unknown, message: SendMailOptions): DeliveryFailed {
    if (error instanceof DeliveryFailed) return error;
    const { mailbox, tenantId, clientId, scope } = this.options;
    const from = typeof message.from === 'string' ? message.from : mailbox;
    // scope: the 535 5.7.3 checklist shows the scope in use
    return new DeliveryFailed(classifySmtpError(error, { mailbox, tenantId, clientId, scope, from }));
  }
}

async function sendOnce(session: Session, message: SendMailOptions): Promise<Delivery> {
  const info = await session.transporter.sendMail(message);
  return {
    messageId: info.messageId,
    accepted: info.accepted.map(String),
    rejected: info.rejected.map(String),
    response: info.response,
  };
}

type ProvisionDone = (error: Error | null, accessToken?: string, expires?: number) => void;

/** A 535 or 501 to AUTH may be about this token (revoked, expiring): a new token can help once. */
function isAuthRefusal(error: unknown): boolean {
  if (error instanceof DeliveryFailed || typeof error !== 'object' || error === null) return false;
  const { code, responseCode } = error as { code?: unknown; responseCode?: unknown };
  return code === 'EAUTH' && (responseCode === 535 || responseCode === 501);
}

/**
 * Exchange answered with a refusal, so it did not take the message and it does not count against
 * the minute or the day. A connection lost without a reply may have been lost after Exchange took it.
 */
function refusedByExchange(error: unknown): boolean {
  if (error instanceof DeliveryFailed) return error.diagnosis.stage !== 'send' || /^[45]\d\d[ -]/.test(error.diagnosis.smtp ?? '');
  return typeof (error as { responseCode?: unknown } | null)?.responseCode === 'number';
}

async function sleepOrEvent(emitter: EventEmitter, event: string, ms: number): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    await once(emitter, event, { signal: abort.signal });
  } catch {
    // the time is up
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
