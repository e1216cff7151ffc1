import { randomUUID } from 'node:crypto';
import type { AcceptedMessage } from './exchange-submission.js';
import type { MailboxInboxes } from './inbox.js';

/**
 * What becomes of mail the sandbox's Exchange accepted, by the recipient's local part: `nobody@`
 * does not exist (5.1.10), `full@`'s mailbox is full (5.2.2), `quarantine@`'s side quarantines it
 * as spam (5.7.1), `delay@` is slow (4.4.7, a delay notification). Any other recipient is
 * delivered, and Exchange says nothing: exosend asks for NOTIFY=FAILURE,DELAY, never SUCCESS.
 */
export type RecipientFate = 'not-found' | 'mailbox-full' | 'quarantined' | 'delayed';

export function fateOf(recipient: string): RecipientFate | undefined {
  const local = recipient.split('@')[0]?.toLowerCase() ?? '';
  if (/^nobody(\+.*)?$/.test(local)) return 'not-found';
  if (/^full(\+.*)?$/.test(local)) return 'mailbox-full';
  if (/^quarantine(\+.*)?$/.test(local)) return 'quarantined';
  if (/^delay(\+.*)?$/.test(local)) return 'delayed';
  return undefined;
}

/** Each fate as Exchange Online's per-recipient fields say it (test/fixtures/reports holds the shapes). */
const fields: Record<
  RecipientFate,
  { action: 'failed' | 'delayed'; status: string; diagnostic: string; human: string }
> = {
  'not-found': {
    action: 'failed',
    status: '5.1.10',
    diagnostic: 'smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {r} not found by SMTP address lookup',
    human: "Your message to {r} couldn't be delivered. It wasn't found at the destination domain.",
  },
  'mailbox-full': {
    action: 'failed',
    status: '5.2.2',
    diagnostic:
      'smtp;554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded',
    human: "The recipient's mailbox is full and can't accept messages now.",
  },
  quarantined: {
    action: 'failed',
    status: '5.7.1',
    diagnostic: "smtp;550 5.7.1 Message quarantined by the recipient's content filter as spam",
    human: "Your message to {r} couldn't be delivered: the recipient's organisation quarantined it as spam.",
  },
  delayed: {
    action: 'delayed',
    status: '4.4.7',
    diagnostic: 'smtp;400 4.4.7 Message delayed',
    human:
      "Delivery is delayed to these recipients or groups: {r}. This message hasn't been delivered yet. Delivery will continue to be attempted.",
  },
};

export interface DeliveryReportsOptions {
  inboxes: MailboxInboxes;
  hostname: string;
  /** The postmaster address of the tenant's service domain. */
  postmaster: string;
}

/**
 * Exchange Online's delivery reports, dropped into the sending mailbox's Inbox a moment after it
 * accepted mail for a recipient with a known fate. Each is shaped as Exchange writes them: a
 * multipart/report (RFC 3464) with a human part, message/delivery-status with Original-Envelope-Id
 * when the submission gave an ENVID, and the returned headers (RET=HDRS) or message (RET=FULL).
 * It honours NOTIFY (RFC 3461): NEVER, or a list without FAILURE (DELAY), gets no report of that
 * kind; a recipient with no NOTIFY gets both, as Exchange's default. The message class the Inbox
 * shows is REPORT.IPM.Note.NDR for a failure and REPORT.IPM.Note.Delayed for a delay.
 */
export class DeliveryReports {
  /** How long after the accept the report lands. */
  delayInMs = 100;
  /** Reports dropped so far (count), by kind. */
  readonly dropped = { ndr: 0, delay: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: DeliveryReportsOptions) {}

  /** Called for every message Exchange accepted, whichever way it came. */
  onAccepted(message: AcceptedMessage): void {
    const failed: [string, RecipientFate][] = [];
    const delayed: [string, RecipientFate][] = [];
    for (const recipient of message.envelope.rcptTo) {
      const fate = fateOf(recipient);
      if (!fate) continue;
      const notify = message.dsn?.notify[recipient.toLowerCase()]?.map((n) => n.toUpperCase());
      const wants = (kind: 'FAILURE' | 'DELAY') => !notify || (notify.includes(kind) && !notify.includes('NEVER'));
      if (fields[fate].action === 'failed' && wants('FAILURE')) failed.push([recipient, fate]);
      if (fields[fate].action === 'delayed' && wants('DELAY')) delayed.push([recipient, fate]);
    }
    if (failed.length > 0) this.later(() => this.drop(message, failed, 'ndr'));
    if (delayed.length > 0) this.later(() => this.drop(message, delayed, 'delay'));
  }

  /** Reports not yet dropped are dropped no more, and the counts start again (between tests). */
  reset(): void {
    this.close();
    Object.assign(this.dropped, { ndr: 0, delay: 0 });
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private later(action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, this.delayInMs);
    this.timers.add(timer);
  }

  private drop(message: AcceptedMessage, recipients: [string, RecipientFate][], kind: 'ndr' | 'delay'): void {
    const subject = subjectOf(message.raw);
    const reportSubject = kind === 'ndr' ? `Undeliverable: ${subject}` : `Delivery delayed:${subject}`;
    this.options.inboxes.add(message.mailbox, {
      subject: reportSubject,
      from: this.options.postmaster,
      messageClass: kind === 'ndr' ? 'REPORT.IPM.Note.NDR' : 'REPORT.IPM.Note.Delayed',
      raw: Buffer.from(this.mime(message, recipients, reportSubject), 'utf8'),
    });
    this.dropped[kind] += 1;
  }

  private mime(message: AcceptedMessage, recipients: [string, RecipientFate][], subject: string): string {
    const outer = randomUUID();
    const alt = randomUUID();
    const now = new Date().toUTCString();
    const host = this.options.hostname;
    const returned = message.dsn?.ret?.toUpperCase() === 'FULL' ? message.raw.toString('utf8') : headersOf(message.raw);
    const human = recipients.map(([r, fate]) => fields[fate].human.replace('{r}', r)).join('\n');
    const perRecipient = recipients
      .map(([r, fate]) =>
        [
          `Final-Recipient: rfc822;${r}`,
          `Action: ${fields[fate].action}`,
          `Status: ${fields[fate].status}`,
          `Diagnostic-Code: ${fields[fate].diagnostic.replace('{r}', r)}`,
          ...(fields[fate].action === 'delayed'
            ? [`Will-Retry-Until: ${new Date(Date.now() + 2 * 86_400_000).toUTCString()}`]
            : []),
          `X-Display-Name: ${r}`,
        ].join('\r\n'),
      )
      .join('\r\n\r\n');
    return [
      `From: Microsoft Outlook <${this.options.postmaster}>`,
      `To: <${message.envelope.mailFrom || message.mailbox}>`,
      `Date: ${now}`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${outer}"`,
      'X-MS-Exchange-Message-Is-Ndr:',
      `Message-ID: <${randomUUID()}@${host}>`,
      `In-Reply-To: ${message.messageId}`,
      `References: ${message.messageId}`,
      `Subject: ${subject}`,
      'Auto-Submitted: auto-replied',
      '',
      `--${outer}`,
      `Content-Type: multipart/alternative; differences=Content-Type;\r\n\tboundary="${alt}"`,
      '',
      `--${alt}`,
      'Content-Type: text/plain; charset="us-ascii"',
      '',
      human,
      '',
      `--${alt}--`,
      '',
      `--${outer}`,
      'Content-Type: message/delivery-status',
      '',
      ...(message.dsn?.envid ? [`Original-Envelope-Id: ${message.dsn.envid}`] : []),
      `Reporting-MTA: dns;${host}`,
      `Arrival-Date: ${message.receivedAt.toUTCString()}`,
      '',
      perRecipient,
      '',
      `--${outer}`,
      message.dsn?.ret?.toUpperCase() === 'FULL' ? 'Content-Type: message/rfc822' : 'Content-Type: text/rfc822-headers',
      '',
      returned,
      '',
      `--${outer}--`,
      '',
    ].join('\r\n');
  }
}

function headersOf(raw: Buffer): string {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  return end < 0 ? text : text.slice(0, end);
}

function subjectOf(raw: Buffer): string {
  return (
    /^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im
      .exec(headersOf(raw))?.[1]
      ?.replace(/\r?\n[ \t]+/g, ' ')
      .trim() ?? ''
  );
}

/**
 * Mail an owner's Inbox holds anyway, that a reader of delivery reports must leave alone: a
 * colleague's note, a forwarded NDR (a person's mail about a report, class IPM.Note), an
 * out-of-office reply to exosend's mail, and a read receipt (a report, but not a delivery report).
 */
export function unrelatedMail(
  mailbox: string,
  aboutMessageId = '<exosend.00000000000000000000000000000000@contoso.example>',
): { subject: string; from: string; messageClass: string; raw: Buffer }[] {
  const mail = (from: string, subject: string, messageClass: string, headers: string[], body: string) => ({
    subject,
    from,
    messageClass,
    raw: Buffer.from(
      [
        `From: ${from}`,
        `To: <${mailbox}>`,
        `Subject: ${subject}`,
        `Message-ID: <${randomUUID()}@fabrikam.example>`,
        'MIME-Version: 1.0',
        ...headers,
        '',
        body,
        '',
      ].join('\r\n'),
    ),
  });
  return [
    mail(
      'grace@fabrikam.example',
      'Lunch on Friday?',
      'IPM.Note',
      ['Content-Type: text/plain; charset=utf-8'],
      'Are you in?',
    ),
    mail(
      'grace@fabrikam.example',
      'Fwd: Undeliverable: Quarterly report',
      'IPM.Note',
      [`In-Reply-To: ${aboutMessageId}`, 'Content-Type: multipart/mixed; boundary="m1"'],
      [
        '--m1',
        'Content-Type: text/plain',
        '',
        'Did you get this?',
        '--m1',
        'Content-Type: message/delivery-status',
        '',
        'Final-Recipient: rfc822;ada@fabrikam.example',
        'Action: failed',
        'Status: 5.1.10',
        '--m1--',
      ].join('\r\n'),
    ),
    mail(
      'ada@fabrikam.example',
      'Automatic reply: Quarterly report',
      'IPM.Note.Rules.OofTemplate.Microsoft',
      [`In-Reply-To: ${aboutMessageId}`, 'Auto-Submitted: auto-replied', 'Content-Type: text/plain'],
      'I am away until Monday.',
    ),
    mail(
      'ada@fabrikam.example',
      'Read: Quarterly report',
      'REPORT.IPM.Note.IPNRN',
      [
        `In-Reply-To: ${aboutMessageId}`,
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="r1"',
      ],
      [
        '--r1',
        'Content-Type: text/plain',
        '',
        'Your message was read.',
        '--r1',
        'Content-Type: message/disposition-notification',
        '',
        'Final-Recipient: rfc822;ada@fabrikam.example',
        'Disposition: manual-action/MDN-sent-manually; displayed',
        '--r1--',
      ].join('\r\n'),
    ),
  ];
}
