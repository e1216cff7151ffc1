import { randomUUID } from 'node:crypto';

/** One message in a mailbox's Inbox, as Graph's message resource and its `$value` show it. */
export interface InboxMessage {
  /** Graph's item id. */
  id: string;
  mailbox: string;
  receivedAt: Date;
  subject: string;
  from: string;
  /** PR_MESSAGE_CLASS (`String 0x001A`): `IPM.Note`, `REPORT.IPM.Note.NDR`, `REPORT.IPM.Note.Delayed`, ... */
  messageClass: string;
  internetMessageId: string;
  /** The MIME, as `GET .../messages/{id}/$value` returns it. */
  raw: Buffer;
  /** The order it arrived in, across every mailbox: what a delta token remembers. */
  sequence: number;
  isRead: boolean;
}

export type NewInboxMessage = Pick<InboxMessage, 'subject' | 'from' | 'messageClass' | 'raw'> &
  Partial<Pick<InboxMessage, 'internetMessageId' | 'receivedAt'>>;

/**
 * Each mailbox's Inbox, shared by the Exchange stand-in (which drops delivery reports and other
 * mail there) and the Graph stand-in (which serves it). What a client reads and what it changes is
 * counted, so a test can say that exosend read only reports and never touched the owner's mail.
 */
export class MailboxInboxes {
  private sequence = 0;
  private readonly boxes = new Map<string, InboxMessage[]>();
  /** Every `$value` read, by item id. */
  readonly mimeReads: string[] = [];
  /** Every change a client asked for (PATCH, DELETE, move, copy): a reader of reports makes none. */
  readonly changes: { id: string; request: string }[] = [];

  add(mailbox: string, message: NewInboxMessage): InboxMessage {
    const item: InboxMessage = {
      id: `AAMk${randomUUID().replace(/-/g, '')}`,
      mailbox,
      receivedAt: message.receivedAt ?? new Date(),
      subject: message.subject,
      from: message.from,
      messageClass: message.messageClass,
      internetMessageId: message.internetMessageId ?? `<${randomUUID()}@sandbox.outlook.local>`,
      raw: message.raw,
      sequence: ++this.sequence,
      isRead: false,
    };
    const box = this.boxes.get(mailbox.toLowerCase()) ?? [];
    box.push(item);
    this.boxes.set(mailbox.toLowerCase(), box);
    return item;
  }

  list(mailbox: string): readonly InboxMessage[] {
    return this.boxes.get(mailbox.toLowerCase()) ?? [];
  }

  get(mailbox: string, id: string): InboxMessage | undefined {
    return this.list(mailbox).find((m) => m.id === id);
  }

  /** The latest sequence number handed out: a delta round that ends now has seen everything up to it. */
  get latest(): number {
    return this.sequence;
  }

  clear(): void {
    this.boxes.clear();
    this.mimeReads.length = 0;
    this.changes.length = 0;
  }
}
