import type { SMTPServerEnvelope } from 'smtp-server';

/** What a submission asked for in delivery status notifications (RFC 3461), as Exchange reads it. */
export interface EnvelopeDsn {
  /** `HDRS` or `FULL`, from MAIL FROM. */
  ret?: string;
  /** The ENVID, xtext-decoded. */
  envid?: string;
  /** Each recipient's NOTIFY list (`FAILURE`, `DELAY`, ...), lower-cased address to values. */
  notify: Record<string, string[]>;
}

/**
 * smtp-server keeps the parameters when DSN is offered (`hideDSN: false`): MAIL FROM's in
 * `session.envelope.dsn` (ret, envid as sent, still xtext), each RCPT TO's in `rcptTo[i].dsn`
 * (smtp-server lib/smtp-connection.js, _applyMailFromArgs and handler_RCPT). @types/smtp-server
 * does not know them yet.
 */
export function envelopeDsn(envelope: SMTPServerEnvelope): EnvelopeDsn | undefined {
  const mail = (envelope as { dsn?: { ret?: string | null; envid?: string | null } }).dsn;
  const notify: Record<string, string[]> = {};
  for (const rcpt of envelope.rcptTo) {
    const values = (rcpt as { dsn?: { notify?: string[] } }).dsn?.notify;
    if (values) notify[rcpt.address.toLowerCase()] = values;
  }
  if (!mail?.ret && !mail?.envid && Object.keys(notify).length === 0) return undefined;
  return { ...(mail?.ret && { ret: mail.ret }), ...(mail?.envid && { envid: decodeXText(mail.envid) }), notify };
}

/** RFC 3461 section 4: `+XX` is the byte XX. */
export const decodeXText = (text: string) =>
  Buffer.from(
    text.replace(/\+([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
