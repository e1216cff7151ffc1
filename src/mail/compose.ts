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
