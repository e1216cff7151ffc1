import { createHash } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import type { MailRequest } from './mail-request.js';

export interface ComposeOptions {
  /** The request's id: its idempotency key, or one exosend generated. */
  id: string;
  /** The authenticating mailbox: default From, and the domain of the Message-ID. */
  mailbox: string;
}

/**
 * The Message-ID is derived from the id, so a redelivered request carries the same one and a
 * duplicate can be recognised downstream. Hashing keeps any id a valid msg-id.
 */
export function messageIdFor(id: string, mailbox: string): string {
  const domain = mailbox.slice(mailbox.lastIndexOf('@') + 1);
  return `<exosend.${createHash('sha256').update(id).digest('hex').slice(0, 32)}@${domain}>`;
}

/** RFC 3461 caps ENVID at 100 characters; a longer id is matched by its Message-ID instead. */
const maxEnvelopeIdLength = 100;

/**
 * Delivery status notifications (RFC 3461), asked for only when Exchange's EHLO offers DSN:
 * nodemailer adds `RET=HDRS ENVID=<id>` to MAIL FROM and `NOTIFY=FAILURE,DELAY` to each RCPT TO
 * only then, the ENVID xtext-encoded (nodemailer lib/smtp-connection/index.js: _setDsnEnvelope,
 * the `_supportedExtensions.includes('DSN')` checks, shared.encodeXText). A bounce then names the
 * exosend id in Original-Envelope-Id, and carries only the headers of the message back.
 */
export function deliveryStatusRequest(id: string): NonNullable<SendMailOptions['dsn']> {
  return { ...(id.length <= maxEnvelopeIdLength && { id }), return: 'headers', notify: ['failure', 'delay'] };
}

export function composeMessage(request: MailRequest, { id, mailbox }: ComposeOptions): SendMailOptions {
  return {
    from: request.from ?? mailbox,
    to: request.to,
    cc: request.cc,
    bcc: request.bcc,
    replyTo: request.replyTo,
    subject: request.subject,
    text: request.text,
    html: request.html,
    headers: request.headers,
    messageId: messageIdFor(id, mailbox),
    dsn: deliveryStatusRequest(id),
    attachments: request.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.contentBase64,
      encoding: 'base64',
    })),
    // a request is data: nothing in it may make nodemailer read a file or fetch a URL
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}
