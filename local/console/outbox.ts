import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import type { AcceptedMessage, ExchangeStandIn } from '../sandbox/index.js';

/** One accepted message as the outbox list shows it. */
export interface OutboxSummary {
  id: string;
  receivedAt: string;
  from: string;
  /** To and Cc as the headers say; Bcc: the envelope's recipients no header names. */
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  sizeBytes: number;
  messageId: string;
  /** exosend's id, from the ENVID the message was sent with (RFC 3461): the key of GET /api/messages/{id}. */
  exosendId?: string;
}

export interface OutboxDetail extends OutboxSummary {
  envelope: { mailFrom: string; rcptTo: string[] };
  mailbox: string;
  headers: { name: string; value: string }[];
  text: string | null;
  hasHtml: boolean;
  attachments: { index: number; filename: string; contentType: string; sizeBytes: number }[];
}

const addresses = (field: AddressObject | AddressObject[] | undefined) =>
  (Array.isArray(field) ? field : field ? [field] : []).flatMap((group) =>
    group.value.flatMap((a) => (a.address ? [a.address] : [])),
  );

/** The sandbox Exchange's accepted messages, newest first, read with mailparser as a mail client would. */
export class Outbox {
  private readonly summaries = new Map<string, Promise<OutboxSummary>>();

  constructor(private readonly exchange: ExchangeStandIn) {}

  /** Calls `listener` with each message Exchange accepts from now on. */
  onMessage(listener: (summary: OutboxSummary) => void): () => void {
    const handler = (message: AcceptedMessage) => void this.summaryOf(message).then(listener, () => undefined);
    this.exchange.events.on('message', handler);
    return () => this.exchange.events.off('message', handler);
  }

  async list(): Promise<OutboxSummary[]> {
    const all = await Promise.all(this.exchange.messages.map((m) => this.summaryOf(m)));
    return all.reverse();
  }

  async detail(id: string): Promise<OutboxDetail | undefined> {
    const message = this.find(id);
    if (!message) return undefined;
    const parsed = await parse(message);
    return {
      ...summarize(message, parsed),
      envelope: message.envelope,
      mailbox: message.mailbox,
      headers: parsed.headerLines.map(({ line }) => {
        const colon = line.indexOf(':');
        return {
          name: line.slice(0, colon),
          value: line
            .slice(colon + 1)
            .replace(/\r?\n[ \t]+/g, ' ')
            .trim(),
        };
      }),
      text: parsed.text ?? null,
      hasHtml: typeof parsed.html === 'string',
      attachments: parsed.attachments.map((a, index) => ({
        index,
        filename: a.filename ?? `attachment-${index + 1}`,
        contentType: a.contentType,
        sizeBytes: a.size,
      })),
    };
  }

  async html(id: string): Promise<string | undefined> {
    const message = this.find(id);
    if (!message) return undefined;
    const { html } = await parse(message);
    return typeof html === 'string' ? html : undefined;
  }

  async attachment(
    id: string,
    index: number,
  ): Promise<{ filename: string; contentType: string; content: Buffer } | undefined> {
    const message = this.find(id);
    if (!message) return undefined;
    const attachment = (await parse(message)).attachments[index];
    return (
      attachment && {
        filename: attachment.filename ?? `attachment-${index + 1}`,
        contentType: attachment.contentType,
        content: attachment.content,
      }
    );
  }

  private find(id: string): AcceptedMessage | undefined {
    return this.exchange.messages.find((m) => m.id === id);
  }

  private summaryOf(message: AcceptedMessage): Promise<OutboxSummary> {
    let summary = this.summaries.get(message.id);
    if (!summary) {
      summary = parse(message).then((parsed) => summarize(message, parsed));
      this.summaries.set(message.id, summary);
    }
    return summary;
  }
}

function parse(message: AcceptedMessage): Promise<ParsedMail> {
  return simpleParser(message.raw, { skipImageLinks: true, skipTextToHtml: true });
}

function summarize(message: AcceptedMessage, parsed: ParsedMail): OutboxSummary {
  const to = addresses(parsed.to);
  const cc = addresses(parsed.cc);
  const named = new Set([...to, ...cc].map((a) => a.toLowerCase()));
  return {
    id: message.id,
    receivedAt: message.receivedAt.toISOString(),
    from: addresses(parsed.from)[0] ?? message.envelope.mailFrom,
    to,
    cc,
    bcc: message.envelope.rcptTo.filter((a) => !named.has(a.toLowerCase())),
    subject: parsed.subject ?? '',
    sizeBytes: message.raw.length,
    messageId: message.messageId,
    ...(message.dsn?.envid && { exosendId: message.dsn.envid }),
  };
}
