import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { SendMailOptions } from 'nodemailer';
import { buildMime } from './mime-bytes.js';

/**
 * A message composed once, as bytes: every transport sends exactly these, so SMTP and Graph
 * deliver the same MIME with the same Message-ID.
 */
export interface ComposedMail {
  /**
   * The message as recipients receive it. Like nodemailer's SMTP transport (mime-node's `keepBcc`
   * is false unless a transport asks for it), it holds no Bcc header: Bcc recipients are in the
   * envelope only.
   */
  raw: Buffer;
  /** MAIL FROM and every RCPT TO (To, Cc and Bcc, each address once), from the headers. */
  envelope: { from: string; to: string[] };
  /** The Bcc addresses: the envelope has them; Graph reads them from a header (see withBccHeader). */
  bcc: string[];
  messageId: string;
  /** The From address, for a diagnosis that names it. */
  from: string;
  /** To, Cc and Bcc as Exchange counts them against the day's recipients. */
  recipients: number;
  /** The delivery status notifications SMTP asks for (RFC 3461); nodemailer adds them to the envelope. */
  dsn?: SendMailOptions['dsn'];
  /** What it was composed from: Graph's draft path composes it again, under the same Message-ID, without its large attachments. */
  source?: SendMailOptions;
}

/**
 * Builds the MIME with nodemailer's MailComposer, the same builder its SMTP transport uses, and
 * writes it to bytes (mime-bytes.ts: in memory, the bytes nodemailer's own build() streams).
 */
export async function composeMime(options: SendMailOptions): Promise<ComposedMail> {
  const node = new MailComposer(options).compile();
  const envelope = node.getEnvelope();
  const raw = await buildMime(node);
  const list = (field: unknown) => (Array.isArray(field) ? field : field ? [field] : []).map(String);
  const bcc = list(options.bcc);
  return {
    raw,
    envelope: { from: envelope.from || '', to: envelope.to },
    bcc,
    messageId: node.messageId(),
    from: typeof options.from === 'string' ? options.from : envelope.from || '',
    recipients: list(options.to).length + list(options.cc).length + bcc.length,
    ...(options.dsn && { dsn: options.dsn }),
    source: options,
  };
}

/**
 * The MIME Graph's sendMail takes: Graph reads the recipients of a MIME message from its To, Cc
 * and Bcc headers (it has no envelope), so the Bcc addresses go in a Bcc header in front of the
 * very bytes SMTP sends. Exchange keeps Bcc recipients out of the copy it transmits: MS-OXCMAIL
 * 2.1.3.1.1.2 ("When generating a message for outbound submission to SMTP, MIME writers MUST NOT
 * copy Bcc recipients to the MIME Bcc header"); only the Sent Items copy shows them.
 */
export function withBccHeader(mail: ComposedMail): Buffer {
  if (mail.bcc.length === 0) return mail.raw;
  // one address a line, folded (RFC 5322 2.2.3): a long list stays under the 998-character line limit
  const header = `Bcc: ${mail.bcc.join(',\r\n ')}\r\n`;
  return Buffer.concat([Buffer.from(header, 'utf8'), mail.raw]);
}
