import type { GraphClient } from './graph-client.js';

/** One new message in a mailbox's Inbox, with only the fields the reader selected. */
export interface InboxItem {
  id: string;
  subject?: string;
  from?: string;
  receivedDateTime?: string;
  internetMessageId?: string;
  /** PR_MESSAGE_CLASS (`REPORT.IPM.Note.NDR`, `IPM.Note`, ...), when Graph returned it. */
  messageClass?: string;
  /** Graph's delta marks a message gone from the folder with `@removed`. */
  removed?: boolean;
}

export interface InboxPage {
  items: InboxItem[];
  /** More of this round: read it next (now, or on the next tick when the budget is spent). */
  nextLink?: string;
  /** The round is done: the next round starts here and returns only what is new. */
  deltaLink?: string;
}

/**
 * The message class as an extended property: MAPI's PR_MESSAGE_CLASS, property tag 0x001A, a
 * string (MS-OXPROPS; Graph's id format `String 0x001A`, api-reference/v1.0/resources/
 * extended-properties-overview.md in microsoftgraph/microsoft-graph-docs-contrib). Graph may
 * echo the id in another spelling (`String 0x1a`), so it is compared by value.
 */
export const messageClassPropertyId = 'String 0x001A';

/** Graph's default page for messages is 10; fewer, larger pages spend fewer requests. */
export const inboxPageSize = 50;

/**
 * A mailbox's Inbox through Microsoft Graph, read with the app's own identity (application
 * permission Mail.Read, or RBAC for Applications' "Application Mail.Read"), only ever read:
 * a delta round (api-reference/v1.0/api/message-delta.md: `changeType=created`, `$select`,
 * `$expand`, `$filter=receivedDateTime ge`, all given in the first request and carried by Graph
 * in its links) and a message's MIME (`$value`). Nothing here marks, moves or deletes mail.
 */
export class GraphInbox {
  private readonly origin: string;

  constructor(
    private readonly client: GraphClient,
    endpoint: string,
    readonly pageSize = inboxPageSize,
  ) {
    this.origin = new URL(endpoint).origin;
  }

  /** The first request of a first round: only mail received since `since`, so an old Inbox is not read from its beginning. */
  firstPath(mailbox: string, since: Date): string {
    const select = 'subject,from,receivedDateTime,internetMessageId';
    const expand = `singleValueExtendedProperties($filter=id eq '${messageClassPropertyId}')`;
    const filter = `receivedDateTime ge ${since.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
    return `/v1.0/users/${encodeURIComponent(mailbox)}/mailFolders/inbox/messages/delta?changeType=created&$select=${select}&$expand=${encodeURIComponent(expand)}&$filter=${encodeURIComponent(filter)}`;
  }

  /** One page of a round: from a link Graph gave, or from `firstPath`. */
  async page(pathOrLink: string): Promise<InboxPage> {
    const response = await this.client.request({
      method: 'GET',
      path: this.pathOf(pathOrLink),
      headers: { prefer: `odata.maxpagesize=${this.pageSize}` },
    });
    const body = (response.json ?? {}) as {
      value?: unknown;
      '@odata.nextLink'?: unknown;
      '@odata.deltaLink'?: unknown;
    };
    const items = Array.isArray(body.value) ? body.value.flatMap(itemOf) : [];
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const nextLink = text(body['@odata.nextLink']);
    const deltaLink = text(body['@odata.deltaLink']);
    return { items, ...(nextLink && { nextLink }), ...(deltaLink && { deltaLink }) };
  }

  /** The message as MIME (`GET /users/{id}/messages/{id}/$value`). */
  async mime(mailbox: string, id: string): Promise<Buffer> {
    const response = await this.client.request({
      method: 'GET',
      path: `/v1.0/users/${encodeURIComponent(mailbox)}/messages/${encodeURIComponent(id)}/$value`,
    });
    return response.body;
  }

  /** A link Graph gave is absolute; the client takes the path after the endpoint, and no other host is followed. */
  private pathOf(pathOrLink: string): string {
    if (pathOrLink.startsWith('/')) return pathOrLink;
    const url = new URL(pathOrLink);
    if (url.origin !== this.origin)
      throw new Error(
        `Microsoft Graph gave a link to another host (${url.origin}); EXOSEND_GRAPH_ENDPOINT is ${this.origin}`,
      );
    return `${url.pathname}${url.search}`;
  }
}

function itemOf(raw: unknown): InboxItem[] {
  if (!raw || typeof raw !== 'object') return [];
  const m = raw as Record<string, unknown>;
  if (typeof m['id'] !== 'string') return [];
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const from = text((m['from'] as { emailAddress?: { address?: unknown } } | undefined)?.emailAddress?.address);
  const properties = Array.isArray(m['singleValueExtendedProperties'])
    ? (m['singleValueExtendedProperties'] as { id?: unknown; value?: unknown }[])
    : [];
  const messageClass = text(properties.find((p) => typeof p.id === 'string' && isMessageClassId(p.id))?.value);
  const subject = text(m['subject']);
  const receivedDateTime = text(m['receivedDateTime']);
  const internetMessageId = text(m['internetMessageId']);
  return [
    {
      id: m['id'],
      ...(subject !== undefined && { subject }),
      ...(from && { from }),
      ...(receivedDateTime && { receivedDateTime }),
      ...(internetMessageId && { internetMessageId }),
      ...(messageClass && { messageClass }),
      ...('@removed' in m && { removed: true }),
    },
  ];
}

const isMessageClassId = (id: string) => /^string\s+0x0*1a$/i.test(id.trim());
