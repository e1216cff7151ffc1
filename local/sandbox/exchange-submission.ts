import { randomUUID } from 'node:crypto';
import type { SMTPServerEnvelope } from 'smtp-server';
import type { AccessTokenClaims } from './access-token.js';
import type { EnvelopeDsn } from './envelope-dsn.js';
import type { Mailbox } from './exchange-directory.js';
import { exchangeReplies, type SmtpReply } from './exchange-replies.js';
import { readSubmittedHeaders } from './message-headers.js';
import type { SubmissionLog } from './submission-log.js';

export interface AcceptedMessage {
  id: string;
  /** `user=` of the session's AUTH XOAUTH2. */
  mailbox: string;
  envelope: { mailFrom: string; rcptTo: string[] };
  raw: Buffer;
  /** The Message-ID header, angle brackets included (Exchange assigns one when it is missing). */
  messageId: string;
  claims: AccessTokenClaims;
  receivedAt: Date;
  sessionId: string;
  /** How it arrived: SMTP submission, or Microsoft Graph sendMail (the Graph stand-in). */
  transport?: 'smtp' | 'graph';
  /** The delivery status notifications it asked for (RFC 3461), when it asked. */
  dsn?: EnvelopeDsn;
}

export interface Submission {
  mailbox: Mailbox;
  claims: AccessTokenClaims;
  sessionId: string;
  envelope: SMTPServerEnvelope;
  raw: Buffer;
  sizeExceeded: boolean;
  hostname: string;
}

/** The store driver's checks at the end of DATA: size, Send As, quota of the mailbox, recipients in 24 h. */
export function judgeSubmission(submission: Submission, log: SubmissionLog): SmtpReply | AcceptedMessage {
  const { mailbox, envelope, raw } = submission;
  if (submission.sizeExceeded) return exchangeReplies.messageTooLarge;
  const headers = readSubmittedHeaders(raw);
  const mailFrom = envelope.mailFrom ? envelope.mailFrom.address : '';
  const mayUse = (address: string) =>
    address.toLowerCase() === mailbox.address.toLowerCase() || mailbox.sendAs.has(address.toLowerCase());
  const denied = [...headers.fromAddresses, mailFrom].find((address) => address && !mayUse(address));
  if (denied) return exchangeReplies.sendAsDenied(mailbox.address, denied);
  if (mailbox.mailboxFull) return exchangeReplies.mailboxFull;
  const rcptTo = envelope.rcptTo.map((r) => r.address);
  if (log.recipientsInLastDay(mailbox.address) + rcptTo.length > mailbox.dailyRecipientQuota) {
    return exchangeReplies.recipientQuotaExceeded;
  }
  return {
    id: randomUUID(),
    mailbox: mailbox.address,
    envelope: { mailFrom, rcptTo },
    raw,
    messageId: headers.messageId ?? `<${randomUUID()}@${submission.hostname}>`,
    claims: submission.claims,
    receivedAt: new Date(),
    sessionId: submission.sessionId,
  };
}
