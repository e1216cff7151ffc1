import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AccessTokenClaims } from './access-token.js';
import type { ExchangeStandIn } from './exchange.js';
import { graphDrafts, type DraftRoute, type GraphDrafts } from './graph-drafts.js';
import { defaultInboxLimits, graphInbox, type InboxCounters, type InboxLimits } from './graph-inbox.js';
import { decodeStrictBase64, readGraphMime } from './graph-mime.js';
import { closeServer, handleWith, listen, sendJson } from './http.js';
import type { TokenVerifier } from './identity.js';
import type { MailboxInboxes } from './inbox.js';
import type { TlsMaterial } from './pki.js';

/**
 * Microsoft Graph's sendMail, as far as exosend uses it, in front of the Exchange stand-in's
 * directory and outbox. Its answers are Graph's: 202 with no body, or `{ "error": { "code",
 * "message" } }` (microsoftgraph/microsoft-graph-docs-contrib, api-reference/v1.0/api/user-sendmail.md,
 * concepts/errors.md, concepts/throttling-limits.md).
 */
export interface GraphStandInOptions {
  tls: TlsMaterial;
  identity: TokenVerifier;
  exchange: ExchangeStandIn;
  /** Each mailbox's Inbox, served by delta and `$value` (local/sandbox/graph-inbox.ts). */
  inboxes: MailboxInboxes;
}

export interface GraphLimits {
  /** Outlook's concurrent requests per app ("Limits per app ID"); the next one gets 429. */
  concurrentRequestsPerApp: number;
  /** A request body above this is refused with 413 (Graph's ~4 MB per request). */
  maxRequestBytes: number;
  /** How long each request takes: lets concurrency show. */
  latencyInMs: number;
  /** The mailbox's MaxSendSize (35 MB by default): a larger message is ErrorMessageSizeExceeded. */
  maxMessageBytes: number;
}

export interface GraphCounters {
  requests: number;
  accepted: number;
  /** Every error answer, in order: status and Graph's code. */
  errors: { status: number; code: string }[];
  /** Highest number of requests in flight at once, per app. */
  maxInFlight: Record<string, number>;
}

export interface GraphFault {
  status: number;
  code: string;
  message: string;
  retryAfterSeconds?: number;
}

export interface GraphStandIn {
  url: string;
  counters: GraphCounters;
  readonly limits: GraphLimits;
  setLimits(limits: Partial<GraphLimits>): void;
  /** The next `count` requests of `route` (default sendMail) get this answer (throttling, an outage) instead of being judged. */
  failNext(fault: GraphFault, count?: number, route?: GraphRoute): void;
  /** The next `count` sendMail requests (or draft sends) are carried out (accepted) but never answered: the ambiguous timeout. */
  acceptWithoutAnswer(count?: number, route?: 'sendMail' | 'send'): void;
  /** The draft path (messages above 4 MB): its drafts, upload sizes and request sizes. */
  drafts: GraphDrafts;
  /** RBAC for Applications: whether app `appId`'s assignment includes "Application Mail.ReadWrite" (it does unless told otherwise). */
  rbacReadWrite(appId: string, granted: boolean): void;
  /** Whether the mailbox can be reached through REST (false: MailboxNotEnabledForRESTAPI, as for an unlicensed or on-premises one). */
  setRestEnabled(mailbox: string, enabled: boolean): void;
  /** RBAC for Applications or an application access policy: the mailboxes app `appId` may reach; undefined: all. */
  scopeApp(appId: string, mailboxes: string[] | undefined): void;
  /** The Inbox routes' limits and what they served. */
  inbox: {
    readonly limits: InboxLimits;
    counters: InboxCounters;
    setLimits(limits: Partial<InboxLimits>): void;
    /** As if the limit's window had passed: every app's count on every mailbox starts again (a test's ten minutes). */
    windowPassed(): void;
  };
  reset(): void;
  close(): Promise<void>;
}

export type GraphRoute = 'sendMail' | DraftRoute;

const graphAudiences = new Set(['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000']);

export async function startGraphStandIn(options: GraphStandInOptions): Promise<GraphStandIn> {
  const { exchange } = options;
  const defaults: GraphLimits = {
    concurrentRequestsPerApp: 4,
    maxRequestBytes: 4 * 1024 * 1024,
    latencyInMs: 0,
    maxMessageBytes: 35 * 1024 * 1024,
  };
  const limits: GraphLimits = { ...defaults };
  const counters: GraphCounters = { requests: 0, accepted: 0, errors: [], maxInFlight: {} };
  const inFlight = new Map<string, number>();
  const restDisabled = new Set<string>();
  const scopes = new Map<string, Set<string>>();
  const faults = new Map<GraphRoute, { fault: GraphFault; remaining: number }>();
  const silent = new Map<'sendMail' | 'send', number>();
  const rbacWithoutReadWrite = new Set<string>();
  const answerLost = (route: 'sendMail' | 'send') => {
    const left = silent.get(route) ?? 0;
    if (left > 0) silent.set(route, left - 1);
    return left > 0;
  };
  const hung = new Set<ServerResponse>();
  let url = '';
  const inboxLimits: InboxLimits = { ...defaultInboxLimits };
  const inboxCounters: InboxCounters = { requests: {}, deltaPages: 0, mimeReads: 0, throttled: 0 };

  const graphError = (
    response: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ) => {
    counters.errors.push({ status, code });
    const date = new Date().toISOString().slice(0, 19);
    sendJson(
      response,
      status,
      { error: { code, message, innerError: { date, 'request-id': randomUUID(), 'client-request-id': randomUUID() } } },
      { 'request-id': randomUUID(), ...headers },
    );
  };

  /** Graph's front door: a token it can read, for Graph, unexpired (401 InvalidAuthenticationToken otherwise). */
  async function authenticate(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<AccessTokenClaims | undefined> {
    const [scheme, token] = (request.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) {
      graphError(response, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
      return undefined;
    }
    let claims: AccessTokenClaims;
    try {
      claims = await options.identity.verifyToken(token);
    } catch {
      graphError(response, 401, 'InvalidAuthenticationToken', 'Access token validation failure.');
      return undefined;
    }
    if (!graphAudiences.has(claims.aud)) {
      graphError(response, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
      return undefined;
    }
    return claims;
  }

  async function readLimited(request: IncomingMessage): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size <= limits.maxRequestBytes) chunks.push(chunk as Buffer);
    }
    return size > limits.maxRequestBytes ? undefined : Buffer.concat(chunks);
  }

  /** A fault told for this route, answered instead of the request; true when one was. */
  function faulted(response: ServerResponse, route: GraphRoute): boolean {
    const f = faults.get(route);
    if (!f || f.remaining <= 0) return false;
    f.remaining -= 1;
    const { status, code, message, retryAfterSeconds } = f.fault;
    graphError(
      response,
      status,
      code,
      message,
      retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
    );
    return true;
  }

  async function sendMail(request: IncomingMessage, response: ServerResponse, address: string): Promise<void> {
    const body = await readLimited(request);
    if (!body)
      return graphError(
        response,
        413,
        'RequestEntityTooLarge',
        'The request body is larger than the maximum supported size (4 MB).',
      );
    const claims = await authenticate(request, response);
    if (!claims) return;
    await inFlightAs(claims, response, () => judge(response, body, address, claims));
  }

  /** Outlook's concurrency per app: one more request than it allows gets 429. */
  async function inFlightAs(
    claims: AccessTokenClaims,
    response: ServerResponse,
    run: () => Promise<void>,
  ): Promise<void> {
    const app = claims.appid.toLowerCase();
    const running = (inFlight.get(app) ?? 0) + 1;
    if (running > limits.concurrentRequestsPerApp) {
      return graphError(response, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', {
        'retry-after': '1',
      });
    }
    inFlight.set(app, running);
    counters.maxInFlight[app] = Math.max(counters.maxInFlight[app] ?? 0, running);
    try {
      if (limits.latencyInMs > 0) await new Promise((resolve) => setTimeout(resolve, limits.latencyInMs));
      await run();
    } finally {
      inFlight.set(app, (inFlight.get(app) ?? 1) - 1);
    }
  }

  async function judge(
    response: ServerResponse,
    body: Buffer,
    address: string,
    claims: AccessTokenClaims,
  ): Promise<void> {
    if (faulted(response, 'sendMail')) return;
    if (!reachable(response, claims, address)) return;
    const mailbox = exchange.directory.mailbox(address)!;
    if (!permitted(claims, 'Mail.Send'))
      return graphError(response, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    const raw = decodeStrictBase64(body.toString('latin1'));
    const mime = raw && readGraphMime(raw);
    if (!raw || !mime)
      return graphError(
        response,
        400,
        'ErrorMimeContentInvalidBase64String',
        'Invalid base64 string for MIME content.',
      );
    if (raw.length > limits.maxMessageBytes) {
      return graphError(
        response,
        400,
        'ErrorMessageSizeExceeded',
        'The message exceeds the maximum supported size., Cannot save changes made to an item to store.',
      );
    }
    const from = mime.from ?? mailbox.address;
    if (from.toLowerCase() !== mailbox.address.toLowerCase() && !mailbox.sendAs.has(from.toLowerCase())) {
      return graphError(
        response,
        403,
        'ErrorSendAsDenied',
        'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.',
      );
    }
    if (mime.recipients.length === 0)
      return graphError(
        response,
        400,
        'ErrorInvalidRecipients',
        "At least one recipient is not valid., A message can't be sent because it contains no recipients.",
      );
    const messageId =
      /^Message-ID:\s*(\S+)/im.exec(mime.delivered.toString('latin1'))?.[1] ?? `<${randomUUID()}@graph.sandbox>`;
    if (answerLost('sendMail')) {
      // carried out, then the answer is lost: the client cannot tell whether it went
      await exchange.deliver(accepted(mailbox.address, from, mime.recipients, mime.delivered, messageId, claims));
      counters.accepted += 1;
      hung.add(response);
      return;
    }
    await exchange.deliver(accepted(mailbox.address, from, mime.recipients, mime.delivered, messageId, claims));
    counters.accepted += 1;
    response.writeHead(202, { 'request-id': randomUUID(), 'content-length': '0' });
    response.end();
  }

  /** The mailbox exists in the token's tenant, the app may reach it (access policy, RBAC scope) and it speaks REST. */
  function reachable(response: ServerResponse, claims: AccessTokenClaims, address: string): boolean {
    const mailbox = exchange.directory.mailbox(address);
    if (!mailbox || mailbox.tenantId.toLowerCase() !== claims.tid.toLowerCase()) {
      graphError(response, 404, 'ErrorInvalidUser', `The requested user '${address}' is invalid.`);
      return false;
    }
    const scope = scopes.get(claims.appid.toLowerCase());
    if (scope && !scope.has(mailbox.address.toLowerCase())) {
      graphError(response, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
      return false;
    }
    if (restDisabled.has(mailbox.address.toLowerCase())) {
      graphError(
        response,
        404,
        'MailboxNotEnabledForRESTAPI',
        'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
      );
      return false;
    }
    return true;
  }

  /** The application permission in the token, or RBAC for Applications ("Application Mail.Send" / "Application Mail.ReadWrite") for a registered principal. */
  function permitted(claims: AccessTokenClaims, role: 'Mail.Send' | 'Mail.ReadWrite'): boolean {
    if (claims.roles?.includes(role)) return true;
    const principal = exchange.directory.servicePrincipal(claims.tid, claims.appid);
    return (
      principal?.rbac === true && !(role === 'Mail.ReadWrite' && rbacWithoutReadWrite.has(claims.appid.toLowerCase()))
    );
  }

  const drafts = graphDrafts({
    exchange,
    baseUrl: () => url,
    maxMessageBytes: () => limits.maxMessageBytes,
    graphError: (response, status, code, message) => graphError(response, status, code, message),
    permitted,
    reachable,
    answerLost: () => answerLost('send'),
    hang: (response) => void hung.add(response),
  });

  /** The draft path's routes (graph-drafts.ts), each under the 4 MB body limit, Graph's token (but the upload URL) and the concurrency. */
  const draftPaths: [string, RegExp, DraftRoute][] = [
    ['POST', /^\/v1\.0\/users\/([^/]+)\/messages$/i, 'draft'],
    ['POST', /^\/v1\.0\/users\/([^/]+)\/messages\/([^/]+)\/attachments$/i, 'attachment'],
    ['POST', /^\/v1\.0\/users\/([^/]+)\/messages\/([^/]+)\/attachments\/createUploadSession$/i, 'uploadSession'],
    ['POST', /^\/v1\.0\/users\/([^/]+)\/messages\/([^/]+)\/send$/i, 'send'],
    ['DELETE', /^\/v1\.0\/users\/([^/]+)\/messages\/([^/]+)$/i, 'delete'],
    ['PUT', /^\/upload\/AttachmentSessions\/([^/]+)$/i, 'upload'],
  ];

  async function draftRoute(
    request: IncomingMessage,
    response: ServerResponse,
    route: DraftRoute,
    match: RegExpExecArray,
  ): Promise<void> {
    const body = await readLimited(request);
    if (!body)
      return graphError(
        response,
        413,
        'RequestEntityTooLarge',
        'The request body is larger than the maximum supported size (4 MB).',
      );
    const parts =
      route === 'upload'
        ? { session: match[1]! }
        : { address: decodeURIComponent(match[1]!), ...(match[2] && { id: decodeURIComponent(match[2]) }) };
    if (route === 'upload') return drafts.handle(request, response, route, parts, body, undefined);
    const claims = await authenticate(request, response);
    if (!claims) return;
    await inFlightAs(claims, response, async () => {
      if (!faulted(response, route)) await drafts.handle(request, response, route, parts, body, claims);
    });
  }

  const inboxRoute = graphInbox({
    inboxes: options.inboxes,
    directory: exchange.directory,
    limits: inboxLimits,
    counters: inboxCounters,
    url: () => url,
    graphError,
    scopeOf: (appId) => scopes.get(appId.toLowerCase()),
  });

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    counters.requests += 1;
    const parsed = new URL(request.url ?? '/', url);
    const path = parsed.pathname;
    const send = /^\/v1\.0\/users\/([^/]+)\/sendMail$/i.exec(path);
    if (request.method === 'POST' && send) return sendMail(request, response, decodeURIComponent(send[1]!));
    for (const [method, pattern, name] of draftPaths) {
      const match = request.method === method ? pattern.exec(path) : null;
      if (match) return draftRoute(request, response, name, match);
    }
    for await (const _ of request) void _;
    if (/^\/v1\.0\/users\/[^/]+\/(mailFolders|messages)\//i.test(path)) {
      const claims = await authenticate(request, response);
      if (!claims) return;
      if (inboxRoute.route(request, response, path, parsed.searchParams, claims)) return;
    }
    return graphError(
      response,
      400,
      'BadRequest',
      `Resource not found for the segment '${path.split('/').pop() ?? ''}'.`,
    );
  }

  const server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, handleWith(route));
  url = `https://127.0.0.1:${await listen(server)}`;

  return {
    url,
    counters,
    limits,
    setLimits: (patch) => void Object.assign(limits, patch),
    failNext: (fault, count = 1, on = 'sendMail') => void faults.set(on, { fault, remaining: count }),
    acceptWithoutAnswer: (count = 1, on = 'sendMail') => void silent.set(on, count),
    drafts,
    rbacReadWrite: (appId, granted) =>
      void (granted ? rbacWithoutReadWrite.delete(appId.toLowerCase()) : rbacWithoutReadWrite.add(appId.toLowerCase())),
    setRestEnabled: (mailbox, enabled) =>
      void (enabled ? restDisabled.delete(mailbox.toLowerCase()) : restDisabled.add(mailbox.toLowerCase())),
    inbox: {
      limits: inboxLimits,
      counters: inboxCounters,
      setLimits: (patch) => void Object.assign(inboxLimits, patch),
      windowPassed: () => inboxRoute.forgetWindows(),
    },
    scopeApp: (appId, mailboxes) =>
      void (mailboxes
        ? scopes.set(appId.toLowerCase(), new Set(mailboxes.map((m) => m.toLowerCase())))
        : scopes.delete(appId.toLowerCase())),
    reset() {
      faults.clear();
      silent.clear();
      rbacWithoutReadWrite.clear();
      drafts.reset();
      restDisabled.clear();
      scopes.clear();
      Object.assign(limits, defaults);
      Object.assign(inboxLimits, defaultInboxLimits);
      inboxRoute.forgetWindows();
      Object.assign(inboxCounters, { requests: {}, deltaPages: 0, mimeReads: 0, throttled: 0 });
      Object.assign(counters, { requests: 0, accepted: 0, maxInFlight: {} });
      counters.errors.length = 0;
    },
    async close() {
      for (const response of hung) response.destroy();
      await closeServer(server);
    },
  };
}

function accepted(
  mailbox: string,
  from: string,
  recipients: string[],
  raw: Buffer,
  messageId: string,
  claims: AccessTokenClaims,
) {
  return {
    id: randomUUID(),
    mailbox,
    envelope: { mailFrom: from, rcptTo: recipients },
    raw,
    messageId,
    claims,
    receivedAt: new Date(),
    sessionId: `graph-${randomUUID()}`,
    transport: 'graph' as const,
  };
}
