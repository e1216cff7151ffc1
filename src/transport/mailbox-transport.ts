import type { TokenProvider } from '../auth/token-provider.js';
import type { MailboxBudget, SendPermit } from '../budget/budget.js';
import { LocalBudget } from '../budget/local-budget.js';
import type { ExosendConfig } from '../config/load-config.js';
import { classifySmtpError } from '../diagnosis/classify.js';
import type { ComposedMail } from '../mail/mime.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import type { Delivery, MailTransport, SendOptions } from './mail-transport.js';
import { SessionPool, type Session } from './session-pool.js';
import { SmtpSession } from './smtp-session.js';

export type { Delivery, SendOptions } from './mail-transport.js';

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

const defaultWaitInMs = 30_000;

/**
 * One mailbox's way to Exchange: SMTP sessions (STARTTLS required, TLS 1.2+, verified
 * certificates) that authenticate with XOAUTH2 tokens from the token cache. Each session comes
 * from the mailbox's session pool (session-pool.ts), under a connection lease from its budget, and
 * each message goes out only under a send permit from it, so that every instance together stays
 * within the mailbox's limits. Failures leave here classified (a DeliveryFailed with its diagnosis).
 */
export class MailboxTransport implements MailTransport {
  readonly kind = 'smtp';
  readonly budget: MailboxBudget;
  private readonly pool: SessionPool;
  private lastToken: string | undefined;

  constructor(
    private readonly options: MailboxTransportOptions,
    private readonly tokens: TokenProvider,
  ) {
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
    this.pool = new SessionPool({
      mailbox: options.mailbox,
      budget: this.budget,
      // one connection stays free for the health check's own session
      maxSessions: Math.max(1, options.maxConnections - 1),
      idleInMs: options.sessionIdleInMs ?? 30_000,
      open: () => this.createSession(),
    });
  }

  async send(message: ComposedMail, options: SendOptions = {}): Promise<Delivery> {
    const deadline = Date.now() + (options.waitUpToMs ?? defaultWaitInMs);
    for (;;) {
      // The slot in the minute before the session: a caller waiting for its fair share of the minute
      // (src/budget/fair-share.ts) must not sit on one of the mailbox's few sessions meanwhile, or it
      // starves the callers the minute is kept for; and a send the day, the caller's quota or its
      // share refuses is refused at once, with that limit's Retry-After.
      const permit = await this.budget.takeSend(message.recipients, {
        waitUpToMs: Math.max(0, deadline - Date.now()),
        ...(options.caller && { caller: options.caller }),
      });
      const session = await this.pool.take(deadline, { ownOnly: true }).catch((error: unknown) => {
        permit.release(false);
        throw error;
      });
      if (session) return this.sendOn(session, permit, message);
      // This instance has no session, and the mailbox's are all other instances': with fewer
      // sessions than instances (2 for 3) one always has none. The slot goes back unused rather than
      // sit through the second a handover takes (the bench's scale-out with 3 workers reached 89-94%
      // of the limit so), and the send takes one again once a session is this instance's.
      permit.release(false);
      await this.pool.ready(deadline);
    }
  }

  /** The message on its session, under its slot; both go back after, the slot counted unless Exchange refused. */
  private async sendOn(session: Session, permit: SendPermit, message: ComposedMail): Promise<Delivery> {
    let accepted = true;
    try {
      return await this.sendWithFreshToken(session, message);
    } catch (error) {
      accepted = !refusedByExchange(error);
      throw error;
    } finally {
      this.pool.giveBack(session);
      permit.release(accepted);
    }
  }

  /** Ends every session; their leases go back half a second later, without holding the process for it. */
  close(): void {
    void this.stop({ keepAlive: false });
  }

  /**
   * Ends every session and gives its lease back: resolves once storage has them all (one write),
   * so that a stopping instance (src/functions/stop.ts) leaves no session of the mailbox's held.
   * A send under way on a session has a moment for its answer, then its connection is cut; a waiting
   * one fails at once.
   */
  async stop({ keepAlive = true } = {}): Promise<void> {
    const ending = this.pool.stop({ keepAlive });
    this.budget.close();
    await ending;
  }

  /**
   * Not a retry of the send story's (src/pipeline/retry.ts): a refused AUTH comes before MAIL FROM,
   * so Exchange never had the message, and the same try goes on with a new token on the same session
   * and permit. Whether a failed try is tried again stays the pipeline's decision.
   */
  private async sendWithFreshToken(session: Session, message: ComposedMail): Promise<Delivery> {
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

  private createSession(): SmtpSession {
    const { smtp, mailbox } = this.options;
    return new SmtpSession({
      host: smtp.host,
      port: smtp.port,
      mailbox,
      token: async () => {
        const { token } = await this.tokens.getToken();
        this.lastToken = token;
        return token;
      },
    });
  }

  private failure(error: unknown, message: ComposedMail): DeliveryFailed {
    if (error instanceof DeliveryFailed) return error;
    const { mailbox, tenantId, clientId, scope } = this.options;
    const from = message.from || mailbox;
    // scope: the 535 5.7.3 checklist shows the scope in use
    return new DeliveryFailed(classifySmtpError(error, { mailbox, tenantId, clientId, scope, from }));
  }
}

/** The composed bytes as they are, with the envelope they were built with: nothing is built again here. */
async function sendOnce(session: Session, message: ComposedMail): Promise<Delivery> {
  const info = await session.smtp.send(
    // MAIL FROM's RET and ENVID and RCPT TO's NOTIFY, when Exchange's EHLO offers DSN (src/mail/compose.ts)
    { ...message.envelope, ...(message.dsn && { dsn: message.dsn }) },
    message.raw,
  );
  return {
    messageId: message.messageId,
    accepted: info.accepted.map(String),
    rejected: info.rejected.map(String),
    response: info.response,
    transport: 'smtp',
  };
}

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
  if (error instanceof DeliveryFailed)
    return error.diagnosis.stage !== 'send' || /^[45]\d\d[ -]/.test(error.diagnosis.smtp ?? '');
  return typeof (error as { responseCode?: unknown } | null)?.responseCode === 'number';
}
