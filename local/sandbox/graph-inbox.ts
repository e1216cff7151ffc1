import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessTokenClaims } from './access-token.js';
import type { ExchangeDirectory } from './exchange-directory.js';
import type { InboxMessage, MailboxInboxes } from './inbox.js';
import { sendJson } from './http.js';

/**
 * A mailbox's Inbox through Microsoft Graph, as far as a reader of delivery reports uses it
 * (microsoftgraph/microsoft-graph-docs-contrib): `GET /users/{id}/mailFolders/inbox/messages/delta`
 * (api-reference/v1.0/api/message-delta.md: $select, $expand, `$filter=receivedDateTime ge`,
 * changeType, `Prefer: odata.maxpagesize`, a round of @odata.nextLink pages ending in an
 * @odata.deltaLink), the message class by `$expand=singleValueExtendedProperties($filter=id eq
 * 'String 0x001A')` (api-reference/v1.0/api/singlevaluelegacyextendedproperty-get.md), and the
 * MIME by `GET /users/{id}/messages/{id}/$value`. Application permission Mail.Read (or
 * Mail.ReadWrite; RBAC for Applications for a registered principal), else 403 ErrorAccessDenied;
 * past the per-mailbox request limit, 429 with Retry-After (concepts/throttling-limits.md, Outlook
 * service limits: 10,000 requests per 10 minutes per app and mailbox).
 */
export interface InboxLimits {
  /** Requests one app may make on one mailbox in `windowInMs`; the next gets 429. */
  requestsPerWindow: number;
  windowInMs: number;
  /** Graph's page size for messages when the client states none. */
  defaultPageSize: number;
}

export const defaultInboxLimits: InboxLimits = { requestsPerWindow: 10_000, windowInMs: 600_000, defaultPageSize: 10 };

export interface InboxCounters {
  /** Delta pages and `$value` reads, per mailbox (lower-case). */
  requests: Record<string, number>;
  deltaPages: number;
  mimeReads: number;
  throttled: number;
}

interface RoundToken {
  /** Items after this sequence number... */
  after: number;
  /** ...up to this one (the round's snapshot); absent in a delta token. */
  until?: number;
  select: string[];
  classExpanded: boolean;
  since?: string;
  pageSize?: number;
}

export interface GraphInboxDeps {
  inboxes: MailboxInboxes;
  directory: ExchangeDirectory;
  limits: InboxLimits;
  counters: InboxCounters;
  url: () => string;
  graphError(
    response: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers?: Record<string, string>,
  ): void;
  /** RBAC for Applications or an access policy: the mailboxes an app may reach, when restricted. */
  scopeOf(appId: string): Set<string> | undefined;
}

const readRoles = ['Mail.Read', 'Mail.ReadWrite'];

export function graphInbox(deps: GraphInboxDeps) {
  const windows = new Map<string, number[]>();

  /** The app's recent requests on the mailbox; the seconds to wait when it is over the limit. */
  function throttled(app: string, mailbox: string): number | undefined {
    const key = `${app}|${mailbox}`;
    const now = Date.now();
    const recent = (windows.get(key) ?? []).filter((t) => t > now - deps.limits.windowInMs);
    windows.set(key, recent);
    if (recent.length >= deps.limits.requestsPerWindow)
      return Math.max(1, Math.ceil((recent[0]! + deps.limits.windowInMs - now) / 1000));
    recent.push(now);
    deps.counters.requests[mailbox] = (deps.counters.requests[mailbox] ?? 0) + 1;
    return undefined;
  }

  /** The mailbox, when the app may read it; otherwise the error is sent and undefined returned. */
  function admit(response: ServerResponse, address: string, claims: AccessTokenClaims): string | undefined {
    const mailbox = deps.directory.mailbox(address);
    if (!mailbox || mailbox.tenantId.toLowerCase() !== claims.tid.toLowerCase()) {
      deps.graphError(response, 404, 'ErrorInvalidUser', `The requested user '${address}' is invalid.`);
      return undefined;
    }
    const principal = deps.directory.servicePrincipal(claims.tid, claims.appid);
    const permitted = readRoles.some((r) => claims.roles?.includes(r)) || principal?.rbac === true;
    const scope = deps.scopeOf(claims.appid);
    if (!permitted || (scope && !scope.has(mailbox.address.toLowerCase()))) {
      deps.graphError(response, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
      return undefined;
    }
    const wait = throttled(claims.appid.toLowerCase(), mailbox.address.toLowerCase());
    if (wait !== undefined) {
      deps.counters.throttled += 1;
      deps.graphError(response, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', {
        'retry-after': String(wait),
      });
      return undefined;
    }
    return mailbox.address;
  }

  function delta(
    request: IncomingMessage,
    response: ServerResponse,
    address: string,
    claims: AccessTokenClaims,
    query: URLSearchParams,
  ): void {
    const mailbox = admit(response, address, claims);
    if (!mailbox) return;
    deps.counters.deltaPages += 1;
    const token = query.get('$skiptoken') ?? query.get('$deltatoken');
    let round: RoundToken;
    if (token) {
      const read = decodeToken(token);
      if (!read) return deps.graphError(response, 400, 'SyncStateInvalid', 'The sync state is invalid or expired.');
      round = read;
    } else {
      const since = /receivedDateTime\s+ge\s+(\S+)/i.exec(query.get('$filter') ?? '')?.[1];
      round = {
        after: 0,
        select: (query.get('$select') ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        classExpanded:
          /singleValueExtendedProperties/i.test(query.get('$expand') ?? '') &&
          /0x001A/i.test(query.get('$expand') ?? ''),
        ...(since && { since }),
      };
    }
    const preferred = /odata\.maxpagesize=(\d+)/i.exec(String(request.headers.prefer ?? ''))?.[1];
    const pageSize = Math.max(1, Number(preferred ?? round.pageSize ?? deps.limits.defaultPageSize));
    const until = round.until ?? deps.inboxes.latest;
    const since = round.since ? Date.parse(round.since) : undefined;
    const pending = deps.inboxes
      .list(mailbox)
      .filter(
        (m) =>
          m.sequence > round.after && m.sequence <= until && (since === undefined || m.receivedAt.getTime() >= since),
      );
    const page = pending.slice(0, pageSize);
    const base = `${deps.url()}/v1.0/users/${encodeURIComponent(address)}/mailFolders/inbox/messages/delta`;
    const more = pending.length > page.length;
    const next: RoundToken = more
      ? { ...round, after: page.at(-1)!.sequence, until, pageSize }
      : { ...round, after: until, pageSize };
    delete (next as { until?: number }).until;
    const link = more
      ? { '@odata.nextLink': `${base}?$skiptoken=${encodeToken({ ...next, until })}` }
      : { '@odata.deltaLink': `${base}?$deltatoken=${encodeToken(next)}` };
    sendJson(
      response,
      200,
      {
        '@odata.context': `${deps.url()}/v1.0/$metadata#Collection(message)`,
        value: page.map((m) => view(m, round)),
        ...link,
      },
      preferred ? { 'preference-applied': `odata.maxpagesize=${pageSize}` } : {},
    );
  }

  function mime(response: ServerResponse, address: string, id: string, claims: AccessTokenClaims): void {
    const mailbox = admit(response, address, claims);
    if (!mailbox) return;
    const message = deps.inboxes.get(mailbox, id);
    if (!message)
      return deps.graphError(response, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    deps.counters.mimeReads += 1;
    deps.inboxes.mimeReads.push(id);
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(message.raw.length) });
    response.end(message.raw);
  }

  /**
   * Routes on a mailbox's messages; false when the request is none of them. Any change to a
   * message (PATCH, DELETE, move, copy) is recorded and carried out as Graph would answer it.
   */
  function route(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    query: URLSearchParams,
    claims: AccessTokenClaims,
  ): boolean {
    const deltaPath = /^\/v1\.0\/users\/([^/]+)\/mailFolders\/inbox\/messages\/delta$/i.exec(path);
    if (deltaPath && request.method === 'GET') {
      delta(request, response, decodeURIComponent(deltaPath[1]!), claims, query);
      return true;
    }
    const value = /^\/v1\.0\/users\/([^/]+)\/(?:mailFolders\/inbox\/)?messages\/([^/]+)\/\$value$/i.exec(path);
    if (value && request.method === 'GET') {
      mime(response, decodeURIComponent(value[1]!), decodeURIComponent(value[2]!), claims);
      return true;
    }
    const item = /^\/v1\.0\/users\/([^/]+)\/(?:mailFolders\/[^/]+\/)?messages\/([^/]+)(\/(?:move|copy))?$/i.exec(path);
    if (item && request.method !== 'GET') {
      deps.inboxes.changes.push({ id: decodeURIComponent(item[2]!), request: `${request.method} ${path}` });
      const found = deps.inboxes.get(decodeURIComponent(item[1]!), decodeURIComponent(item[2]!));
      if (found && request.method === 'PATCH') found.isRead = true;
      sendJson(response, 200, {});
      return true;
    }
    return false;
  }

  return { route, forgetWindows: () => windows.clear() };
}

/** A message as the delta round's $select and $expand ask for it; `id` always. */
function view(m: InboxMessage, round: RoundToken): Record<string, unknown> {
  const all: Record<string, unknown> = {
    subject: m.subject,
    from: { emailAddress: { name: m.from, address: m.from } },
    internetMessageId: m.internetMessageId,
    receivedDateTime: m.receivedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    isRead: m.isRead,
  };
  const selected =
    round.select.length > 0 ? Object.fromEntries(round.select.filter((f) => f in all).map((f) => [f, all[f]])) : all;
  return {
    '@odata.type': '#microsoft.graph.message',
    id: m.id,
    ...selected,
    ...(round.classExpanded && { singleValueExtendedProperties: [{ id: 'String 0x1a', value: m.messageClass }] }),
  };
}

const encodeToken = (token: RoundToken) => Buffer.from(JSON.stringify(token)).toString('base64url');

function decodeToken(text: string): RoundToken | undefined {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as RoundToken;
    return typeof token.after === 'number' && Array.isArray(token.select) ? token : undefined;
  } catch {
    return undefined;
  }
}
