import SMTPConnection, { type SMTPConnectionSendInfo, type SMTPEnvelope } from 'nodemailer/lib/smtp-connection';
import XOAuth2 from 'nodemailer/lib/xoauth2';

export interface SmtpSessionOptions {
  host: string;
  port: number;
  /** The mailbox that authenticates: XOAUTH2's `user`. */
  mailbox: string;
  /** A token for AUTH XOAUTH2, from the token cache: asked at every login. */
  token: () => Promise<string>;
}

/**
 * nodemailer's pooled transport ends a connection after this many messages and opens another
 * (lib/smtp-pool/index.js: `maxMessages`, default 100); a session's connection lives as long.
 */
const messagesPerConnection = 100;

/**
 * One SMTP session's connection to Exchange: opened on first use, upgraded with STARTTLS (required,
 * TLS 1.2 or later, the certificate verified) and authenticated with XOAUTH2; opened again, under
 * the same lease, when Exchange ends it or after `messagesPerConnection` messages.
 *
 * It hands nodemailer's SMTPConnection (its documented client, the one its pool drives) the composed
 * bytes as they are. Through the pooled transport each message went into a second MIME node and
 * stream pipeline on its way to the socket, about a third of exosend's own CPU per message
 * (docs/benchmark-results.md). What the pool did for a session is here: a refusal of the message
 * resets the transaction (RSET) and keeps the connection; anything else drops it; closing waits for
 * a send under way (lib/smtp-pool/pool-resource.js: `send`, `_release`; lib/smtp-pool/index.js: `close`).
 */
export class SmtpSession {
  private connection: SMTPConnection | undefined;
  /** The connection as it becomes ready for a message: connected and authenticated, or reset after a refusal. */
  private ready: Promise<SMTPConnection> | undefined;
  private messages = 0;
  private sending = false;
  private closing = false;

  constructor(private readonly options: SmtpSessionOptions) {}

  /** Sends the bytes with this envelope; resolves with Exchange's answer once it accepted them. */
  async send(envelope: SMTPEnvelope, raw: Buffer): Promise<SMTPConnectionSendInfo> {
    if (this.closing) throw new Error('The SMTP session was closed before this send.');
    this.sending = true;
    let connection: SMTPConnection | undefined;
    try {
      connection = await (this.ready ??= this.open());
      const info = await new Promise<SMTPConnectionSendInfo>((resolve, reject) =>
        connection!.send(envelope, raw, (error, sent) => (error ? reject(error) : resolve(sent))),
      );
      if (++this.messages >= messagesPerConnection) this.drop(connection, { quit: true });
      return info;
    } catch (error) {
      if (connection) this.afterFailure(connection, error);
      throw error;
    } finally {
      this.sending = false;
      if (this.closing) this.endNow();
    }
  }

  /** Ends the connection: at once when idle (QUIT), else once the send under way has its answer. */
  close(): void {
    this.closing = true;
    if (!this.sending) this.endNow();
  }

  private endNow(): void {
    if (this.connection) this.drop(this.connection, { quit: true });
  }

  private async open(): Promise<SMTPConnection> {
    const { host, port, mailbox, token } = this.options;
    const connection = new SMTPConnection({
      host,
      port,
      secure: false,
      requireTLS: true,
      tls: { minVersion: 'TLSv1.2' }, // nodemailer sends the host as SNI when it is a name
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
    });
    this.connection = connection;
    this.messages = 0;
    // nodemailer reports a refused connection, a timeout, a missing STARTTLS or a refusing greeting
    // only through this event; after that, an error also reaches the send in flight, and an idle
    // connection that errs or ends is opened again for the next send (`on`: a second error without
    // a listener would crash the process)
    const failed = new Promise<never>((_, reject) =>
      connection.on('error', (error: Error) => {
        this.forget(connection);
        reject(error);
      }),
    );
    failed.catch(() => undefined);
    connection.once('end', () => this.forget(connection));
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve()))),
        failed,
      ]);
      const oauth2 = new XOAuth2({
        user: mailbox,
        // asked at every login (a 334 challenge asks again): the token cache decides whether it is new
        provisionCallback: (_user, _renew, done) =>
          void token().then(
            (accessToken) => done(null, accessToken),
            (error: unknown) => done(error as Error),
          ),
      });
      // AUTH whatever the server's EHLO offers: a message must never leave unauthenticated
      await Promise.race([
        new Promise<void>((resolve, reject) =>
          connection.login({ user: mailbox, oauth2, method: 'XOAUTH2' }, (error) =>
            error ? reject(error) : resolve(),
          ),
        ),
        failed,
      ]);
      return connection;
    } catch (error) {
      this.drop(connection, { quit: false });
      throw error;
    }
  }

  /**
   * Exchange refused this message (an envelope or message reply other than 421): the session is fine,
   * and RSET ends the transaction before the next message. Anything else ends the connection.
   */
  private afterFailure(connection: SMTPConnection, error: unknown): void {
    const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
    if (this.connection !== connection) return; // already ended
    if ((code === 'EENVELOPE' || code === 'EMESSAGE') && responseCode !== 421) {
      const reset = new Promise<void>((resolve, reject) =>
        connection.reset((resetError) => (resetError ? reject(resetError) : resolve())),
      );
      // a session whose RSET fails is opened again for the next message
      this.ready = reset.then(
        () => connection,
        () => {
          this.drop(connection, { quit: false });
          return (this.ready = this.open());
        },
      );
      this.ready.catch(() => undefined);
      return;
    }
    this.drop(connection, { quit: false });
  }

  /** Ends the connection, politely (QUIT) when asked; the next send opens another. */
  private drop(connection: SMTPConnection, { quit }: { quit: boolean }): void {
    this.forget(connection);
    if (quit && connection.authenticated) connection.quit();
    else connection.close();
  }

  private forget(connection: SMTPConnection): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.ready = undefined;
  }
}
