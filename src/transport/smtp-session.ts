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
 * How long closing waits for a send under way before it cuts the connection: a session's lease goes
 * back only after its connection has ended, and a stopping instance has 3 s for all of it
 * (src/runtime/runtime.ts, stopWithinMs).
 */
const closeWaitInMs = 1500;

/** One connection, and what becomes of it: every wait on it races `lost`, and `ended` settles once nodemailer has ended it. */
interface Link {
  connection: SMTPConnection;
  lost: Promise<never>;
  ended: Promise<void>;
}

/**
 * One SMTP session's connection to Exchange: opened on first use, upgraded with STARTTLS (required,
 * TLS 1.2 or later, the certificate verified) and authenticated with XOAUTH2; opened again, under
 * the same lease, when Exchange ends it or after `messagesPerConnection` messages.
 *
 * It hands nodemailer's SMTPConnection (its documented client, the one its pool drives) the composed
 * bytes as they are. Through the pooled transport each message went into a second MIME node and
 * stream pipeline on its way to the socket, about a third of exosend's own CPU per message
 * (docs/benchmark-results.md). What the pool did for a session is here: a refusal of the message
 * resets the transaction (RSET) and keeps the connection; anything else drops it; closing lets a
 * send under way have its answer (lib/smtp-pool/pool-resource.js: `send`, `_release`;
 * lib/smtp-pool/index.js: `close`). One send at a time: the session pool gives a session to one.
 */
export class SmtpSession {
  private link: Link | undefined;
  /** The connection last opened, or being opened: close() waits for its end, and cuts it if it must. */
  private lastLink: Link | undefined;
  /** The RSET after a refused message, until its reply (never rejects: a failed RSET drops the connection). */
  private resetting: Promise<void> | undefined;
  private messages = 0;
  private sending = false;
  private closing = false;

  constructor(private readonly options: SmtpSessionOptions) {}

  /** Sends the bytes with this envelope; resolves with Exchange's answer once it accepted them. */
  async send(envelope: SMTPEnvelope, raw: Buffer): Promise<SMTPConnectionSendInfo> {
    if (this.closing) throw closedError();
    this.sending = true;
    try {
      if (this.resetting) await this.resetting;
      if (this.closing) throw closedError(); // closed while its RSET was answered
      let link = this.link;
      if (!link) {
        link = await this.open();
        // closed while it connected: nothing goes out once the session is told to end (its lease goes next)
        if (this.closing) throw closedError();
      }
      try {
        const info = await Promise.race([
          new Promise<SMTPConnectionSendInfo>((resolve, reject) =>
            link.connection.send(envelope, raw, (error, sent) => (error ? reject(error) : resolve(sent))),
          ),
          link.lost,
        ]);
        if (++this.messages >= messagesPerConnection) this.drop(link, { quit: true });
        return info;
      } catch (error) {
        // a refused message counts as the pool counts it (pool-resource.js: `send`): every wait on the
        // connection races `lost` and stays attached to it until the connection ends
        this.messages++;
        this.afterFailure(link, error);
        throw error;
      }
    } finally {
      this.sending = false;
      if (this.closing) this.endNow();
    }
  }

  /**
   * Ends the connection: at once when idle (QUIT), else once the send under way has its answer, cut
   * off after `closeWaitInMs`. Resolves once the connection has ended, for its lease to go back.
   */
  close(): Promise<void> {
    this.closing = true;
    if (!this.sending) this.endNow();
    // the connection a send under way uses, is opening (open() names it before it connects), or has
    // just asked to QUIT: a server that does not answer would keep it open past its lease
    const last = this.lastLink;
    if (!last) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const cutOff = setTimeout(() => {
        last.connection.close();
        resolve();
      }, closeWaitInMs);
      cutOff.unref();
      void last.ended.then(() => {
        clearTimeout(cutOff);
        resolve();
      });
    });
  }

  private endNow(): void {
    if (this.link) this.drop(this.link, { quit: true });
  }

  private async open(): Promise<Link> {
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
    // nodemailer reports a refused connection, a timeout, a missing STARTTLS or a refusing greeting
    // only through 'error', never through connect's callback; and it drops the callback of a command
    // in flight (RSET) when the connection goes. So every wait on the connection races `lost`
    // (`on`, not `once`: a second error without a listener would crash the process).
    const lost = new Promise<never>((_, reject) => {
      connection.on('error', reject);
      connection.once('end', () => reject(connectionEnded()));
    });
    const ended = new Promise<void>((resolve) => connection.once('end', () => resolve()));
    const link: Link = { connection, lost, ended };
    this.lastLink = link;
    // handled here (an idle connection that goes is forgotten), so its rejection is never unhandled
    void lost.catch(() => this.forget(link));
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve()))),
        lost,
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
        lost,
      ]);
    } catch (error) {
      connection.close();
      throw error;
    }
    this.link = link;
    this.messages = 0;
    return link;
  }

  /**
   * Exchange refused this message (an envelope or message reply other than 421): the session is fine,
   * and RSET ends the transaction before the next message. Anything else ends the connection.
   */
  private afterFailure(link: Link, error: unknown): void {
    if (this.link !== link) return; // already ended
    const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
    if ((code === 'EENVELOPE' || code === 'EMESSAGE') && responseCode !== 421) {
      // the connection's last message: it goes, as after a message sent
      if (this.messages >= messagesPerConnection) return this.drop(link, { quit: true });
      const reset = new Promise<void>((resolve, reject) =>
        link.connection.reset((resetError) => (resetError ? reject(resetError) : resolve())),
      );
      // a session whose RSET fails, or whose connection goes meanwhile, opens a new one for the next message
      this.resetting = Promise.race([reset, link.lost])
        .catch(() => this.drop(link, { quit: false }))
        .finally(() => {
          this.resetting = undefined;
        });
      return;
    }
    this.drop(link, { quit: false });
  }

  /** Ends the connection, politely (QUIT) when asked; the next send opens another. */
  private drop(link: Link, { quit }: { quit: boolean }): void {
    this.forget(link);
    if (quit && link.connection.authenticated) link.connection.quit();
    else link.connection.close();
  }

  private forget(link: Link): void {
    if (this.link === link) this.link = undefined;
  }
}

const closedError = () => new Error('The SMTP session was closed before this send.');

/** As nodemailer names a connection that closed under a command. */
function connectionEnded(): Error {
  return Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION', command: 'CONN' });
}
