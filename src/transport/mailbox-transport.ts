import nodemailer, { type SendMailOptions, type SMTPPoolSentMessageInfo, type Transporter } from 'nodemailer';
import type { TokenProvider } from '../auth/token-provider.js';
import type { ExosendConfig } from '../config.js';
import { classifySmtpError } from '../diagnosis/classify.js';
import { DeliveryFailed } from '../pipeline/errors.js';
import { SlidingWindowPacer } from './pacer.js';

export type MailboxTransportOptions = Pick<
  ExosendConfig,
  'smtp' | 'mailbox' | 'maxConnections' | 'ratePerMinute' | 'tenantId' | 'clientId' | 'scope'
> & {
  /** The window `ratePerMinute` is counted over: a minute, as Exchange counts; shorter only to keep a benchmark short. */
  pacingWindowInMs?: number;
};

export interface Delivery {
  messageId: string;
  accepted: string[];
  rejected: string[];
  response: string;
}

/**
 * One mailbox's way to Exchange: a nodemailer pool (STARTTLS required, TLS 1.2+, verified
 * certificates) whose connections authenticate with XOAUTH2 tokens from the token cache, paced
 * to the mailbox's per-minute limit and capped at its concurrent-connection limit.
 */
export class MailboxTransport {
  private readonly transporter: Transporter<SMTPPoolSentMessageInfo>;
  private readonly pacer: SlidingWindowPacer;
  private lastToken: string | undefined;

  constructor(
    private readonly options: MailboxTransportOptions,
    private readonly tokens: TokenProvider,
  ) {
    this.pacer = new SlidingWindowPacer(options.ratePerMinute, options.pacingWindowInMs);
    this.transporter = nodemailer.createTransport({
      pool: true,
      host: options.smtp.host,
      port: options.smtp.port,
      secure: false,
      requireTLS: true,
      // AUTH even if a server does not offer it: a message must never leave unauthenticated
      forceAuth: true,
      tls: { minVersion: 'TLSv1.2' }, // nodemailer sends the host as SNI when it is a name
      // one of the mailbox's sessions stays free for the health check's own: a check that met 432
      // under load would raise a false alarm, and push a real send into 432 too
      maxConnections: Math.max(1, options.maxConnections - 1),
      // exosend decides about retries: a silent resend after a dropped connection could send twice
      maxRequeues: 0,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
      auth: { type: 'OAuth2', user: options.mailbox },
    });
    this.transporter.set('oauth2_provision_cb', (_user: string, _renew: boolean, done: ProvisionDone) => {
      this.tokens.getToken().then(
        ({ token }) => {
          this.lastToken = token;
          // an expiry already past keeps nodemailer from caching: each new connection asks the token cache
          done(null, token, Date.now());
        },
        (error: unknown) => done(error as Error),
      );
    });
  }

  async send(message: SendMailOptions): Promise<Delivery> {
    const release = await this.pacer.acquire();
    try {
      return await this.sendOnce(message);
    } catch (error) {
      if (!isAuthRefusal(error) || !this.lastToken) throw this.failure(error, message);
      // Exchange refused the token: drop it and try once with a new one.
      this.tokens.invalidate(this.lastToken);
      return await this.sendOnce(message).catch((retryError: unknown) => {
        throw this.failure(retryError, message);
      });
    } finally {
      release();
    }
  }

  close(): void {
    this.pacer.close();
    this.transporter.close();
  }

  private async sendOnce(message: SendMailOptions): Promise<Delivery> {
    const info = await this.transporter.sendMail(message);
    return {
      messageId: info.messageId,
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
      response: info.response,
    };
  }

  private failure(error: unknown, message: SendMailOptions): DeliveryFailed {
    if (error instanceof DeliveryFailed) return error;
    const { mailbox, tenantId, clientId, scope } = this.options;
    const from = typeof message.from === 'string' ? message.from : mailbox;
    // scope: the 535 5.7.3 checklist shows the scope in use
    return new DeliveryFailed(classifySmtpError(error, { mailbox, tenantId, clientId, scope, from }));
  }
}

type ProvisionDone = (error: Error | null, accessToken?: string, expires?: number) => void;

/** A 535 or 501 to AUTH may be about this token (revoked, expiring): a new token can help once. */
function isAuthRefusal(error: unknown): boolean {
  if (error instanceof DeliveryFailed || typeof error !== 'object' || error === null) return false;
  const { code, responseCode } = error as { code?: unknown; responseCode?: unknown };
  return code === 'EAUTH' && (responseCode === 535 || responseCode === 501);
}
