import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import MimeNode from 'nodemailer/lib/mime-node/index.js';
import type { AccessTokenClaims } from './access-token.js';
import type { ExchangeStandIn } from './exchange.js';
import { decodeStrictBase64, readGraphMime } from './graph-mime.js';

/**
 * Graph's draft path, as microsoftgraph/microsoft-graph-docs-contrib describes it: a draft from
 * MIME (api-reference/v1.0/api/user-post-messages.md, Example 3), plain attachments
 * (message-post-attachments.md), upload sessions (attachment-createuploadsession.md,
 * concepts/outlook-large-attachments.md: PUTs in order, each up to 4 MB, to a pre-authenticated
 * URL; 200 with nextExpectedRanges, 201 at the last byte), the send (message-send.md, 202) and
 * DELETE. Every step but the send needs Mail.ReadWrite. This stand-in keeps the MIME's headers and
 * Message-ID; real Exchange rebuilds the message and does not promise to.
 */
export type DraftRoute = 'draft' | 'attachment' | 'uploadSession' | 'upload' | 'send' | 'delete';

export interface DraftContext {
  exchange: ExchangeStandIn;
  baseUrl(): string;
  maxMessageBytes(): number;
  graphError(response: ServerResponse, status: number, code: string, message: string): void;
  /** Mail.ReadWrite (draft steps) or Mail.Send (the send), in the token or by RBAC for Applications. */
  permitted(claims: AccessTokenClaims, role: 'Mail.ReadWrite' | 'Mail.Send'): boolean;
  /** Whether the app may reach the mailbox at all (application access policy, RBAC scope, REST enabled). */
  reachable(response: ServerResponse, claims: AccessTokenClaims, address: string): boolean;
  /** Whether this send is carried out and then left without an answer. */
  answerLost(): boolean;
  hang(response: ServerResponse): void;
}

interface Draft {
  id: string;
  mailbox: string;
  appId: string;
  raw: Buffer;
  attachments: { name: string; contentType: string; bytes: Buffer }[];
}

interface UploadSession {
  draft: Draft;
  name: string;
  contentType: string;
  size: number;
  chunks: Buffer[];
  next: number;
}

export interface GraphDrafts {
  /** Drafts not sent nor deleted, by mailbox. */
  drafts(mailbox?: string): { id: string; mailbox: string; attachments: number }[];
  /** Every upload PUT's body size, in order. */
  readonly uploadSizes: number[];
  /** Every request body size the draft routes received (the draft's own first). */
  readonly requestSizes: { route: DraftRoute; bytes: number }[];
  handle(
    request: IncomingMessage,
    response: ServerResponse,
    route: DraftRoute,
    parts: { address?: string; id?: string; session?: string },
    body: Buffer,
    claims: AccessTokenClaims | undefined,
  ): Promise<void>;
  reset(): void;
}

export function graphDrafts(ctx: DraftContext): GraphDrafts {
  const drafts = new Map<string, Draft>();
  const sessions = new Map<string, UploadSession>();
  const uploadSizes: number[] = [];
  const requestSizes: { route: DraftRoute; bytes: number }[] = [];

  const findDraft = (response: ServerResponse, address: string, id: string | undefined): Draft | undefined => {
    const draft = id ? drafts.get(id) : undefined;
    if (draft && draft.mailbox === address.toLowerCase()) return draft;
    ctx.graphError(response, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return undefined;
  };

  async function handle(
    request: IncomingMessage,
    response: ServerResponse,
    route: DraftRoute,
    parts: { address?: string; id?: string; session?: string },
    body: Buffer,
    claims: AccessTokenClaims | undefined,
  ): Promise<void> {
    requestSizes.push({ route, bytes: body.length });
    if (route === 'upload') return upload(request, response, parts.session ?? '', body);
    if (!claims) return;
    const address = parts.address ?? '';
    if (!ctx.reachable(response, claims, address)) return;
    const role = route === 'send' ? 'Mail.Send' : 'Mail.ReadWrite';
    if (!ctx.permitted(claims, role))
      return ctx.graphError(response, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    if (route === 'draft') {
      const raw = decodeStrictBase64(body.toString('latin1'));
      if (!raw || !readGraphMime(raw))
        return ctx.graphError(
          response,
          400,
          'ErrorMimeContentInvalidBase64String',
          'Invalid base64 string for MIME content.',
        );
      const draft: Draft = {
        id: `AAMk${randomUUID().replace(/-/g, '')}`,
        mailbox: address.toLowerCase(),
        appId: claims.appid.toLowerCase(),
        raw,
        attachments: [],
      };
      drafts.set(draft.id, draft);
      const internetMessageId = /^Message-ID:\s*(\S+)/im.exec(raw.toString('latin1'))?.[1];
      return json(response, 201, { id: draft.id, isDraft: true, internetMessageId });
    }
    const draft = findDraft(response, address, parts.id);
    if (!draft) return;
    if (route === 'delete') {
      drafts.delete(draft.id);
      response.writeHead(204).end();
      return;
    }
    if (route === 'attachment') {
      const a = parseJson(body) as { name?: unknown; contentType?: unknown; contentBytes?: unknown } | undefined;
      const bytes =
        typeof a?.contentBytes === 'string'
          ? (decodeStrictBase64(a.contentBytes) ?? (a.contentBytes === '' ? Buffer.alloc(0) : undefined))
          : undefined;
      if (!a || typeof a.name !== 'string' || !bytes)
        return ctx.graphError(response, 400, 'ErrorInvalidRequest', 'The attachment is not a valid fileAttachment.');
      draft.attachments.push({
        name: a.name,
        contentType: typeof a.contentType === 'string' ? a.contentType : 'application/octet-stream',
        bytes,
      });
      return json(response, 201, { id: randomUUID(), name: a.name, size: bytes.length });
    }
    if (route === 'uploadSession') {
      const item = (
        parseJson(body) as
          | { AttachmentItem?: { attachmentType?: unknown; name?: unknown; size?: unknown; contentType?: unknown } }
          | undefined
      )?.AttachmentItem;
      if (
        item?.attachmentType !== 'file' ||
        typeof item.name !== 'string' ||
        typeof item.size !== 'number' ||
        item.size < 0
      ) {
        return ctx.graphError(
          response,
          400,
          'ErrorInvalidRequest',
          'AttachmentItem needs attachmentType file, a name and a size.',
        );
      }
      const token = randomUUID();
      sessions.set(token, {
        draft,
        name: item.name,
        contentType: typeof item.contentType === 'string' ? item.contentType : 'application/octet-stream',
        size: item.size,
        chunks: [],
        next: 0,
      });
      const expirationDateTime = new Date(Date.now() + 15 * 60_000).toISOString();
      return json(response, 201, {
        uploadUrl: `${ctx.baseUrl()}/upload/AttachmentSessions/${token}?authtoken=${randomUUID()}`,
        expirationDateTime,
        nextExpectedRanges: ['0-'],
      });
    }
    // the send: the draft with its attachments, to the recipients its headers name
    const mime = readGraphMime(draft.raw)!;
    const delivered = await withAttachments(mime.delivered, draft.attachments);
    if (delivered.length > ctx.maxMessageBytes())
      return ctx.graphError(
        response,
        400,
        'ErrorMessageSizeExceeded',
        'The message exceeds the maximum supported size.',
      );
    const mailbox = ctx.exchange.directory.mailbox(address)!;
    const from = mime.from ?? mailbox.address;
    if (from.toLowerCase() !== mailbox.address.toLowerCase() && !mailbox.sendAs.has(from.toLowerCase())) {
      return ctx.graphError(
        response,
        403,
        'ErrorSendAsDenied',
        'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.',
      );
    }
    if (mime.recipients.length === 0)
      return ctx.graphError(response, 400, 'ErrorInvalidRecipients', 'At least one recipient is not valid.');
    drafts.delete(draft.id);
    const messageId =
      /^Message-ID:\s*(\S+)/im.exec(delivered.toString('latin1'))?.[1] ?? `<${randomUUID()}@graph.sandbox>`;
    const lost = ctx.answerLost();
    await ctx.exchange.deliver({
      id: randomUUID(),
      mailbox: mailbox.address,
      envelope: { mailFrom: from, rcptTo: mime.recipients },
      raw: delivered,
      messageId,
      claims,
      receivedAt: new Date(),
      sessionId: `graph-${randomUUID()}`,
      transport: 'graph',
    });
    if (lost) return ctx.hang(response);
    response.writeHead(202, { 'request-id': randomUUID(), 'content-length': '0' }).end();
  }

  function upload(request: IncomingMessage, response: ServerResponse, token: string, body: Buffer): void {
    uploadSizes.push(body.length);
    const session = sessions.get(token);
    if (!session)
      return ctx.graphError(response, 404, 'ErrorItemNotFound', 'The upload session was not found or has expired.');
    // the URL is pre-authenticated: a bearer token on it is refused (attachment-createuploadsession.md)
    if (request.headers.authorization)
      return ctx.graphError(
        response,
        401,
        'InvalidAuthenticationToken',
        'Do not send an Authorization header to the upload URL.',
      );
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(request.headers['content-range'] ?? ''));
    const [start, end, total] = range ? [Number(range[1]), Number(range[2]), Number(range[3])] : [NaN, NaN, NaN];
    if (!range || start !== session.next || end - start + 1 !== body.length || total !== session.size || end >= total) {
      return ctx.graphError(response, 416, 'InvalidRange', `Expected bytes ${session.next}- of ${session.size}.`);
    }
    session.chunks.push(body);
    session.next = end + 1;
    if (session.next < session.size)
      return json(response, 200, {
        expirationDateTime: new Date(Date.now() + 15 * 60_000).toISOString(),
        nextExpectedRanges: [`${session.next}-`],
      });
    sessions.delete(token);
    const attachmentId = randomUUID();
    session.draft.attachments.push({
      name: session.name,
      contentType: session.contentType,
      bytes: Buffer.concat(session.chunks),
    });
    response
      .writeHead(201, {
        location: `${ctx.baseUrl()}/v1.0/users/${encodeURIComponent(session.draft.mailbox)}/messages/${session.draft.id}/attachments/${attachmentId}`,
        'content-length': '0',
      })
      .end();
  }

  return {
    drafts: (mailbox) =>
      [...drafts.values()]
        .filter((d) => !mailbox || d.mailbox === mailbox.toLowerCase())
        .map((d) => ({ id: d.id, mailbox: d.mailbox, attachments: d.attachments.length })),
    uploadSizes,
    requestSizes,
    handle,
    reset() {
      drafts.clear();
      sessions.clear();
      uploadSizes.length = 0;
      requestSizes.length = 0;
    },
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'request-id': randomUUID(),
    })
    .end(text);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The message as Exchange sends it: the draft's MIME with each attachment added as a part of its multipart/mixed. */
async function withAttachments(
  raw: Buffer,
  attachments: { name: string; contentType: string; bytes: Buffer }[],
): Promise<Buffer> {
  if (attachments.length === 0) return raw;
  const text = raw.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const fields = text.slice(0, split).split(/\r\n(?![ \t])/);
  const body = text.slice(split + 4);
  const parts = await Promise.all(attachments.map((a) => partOf(a)));
  const type = fields.find((f) => /^content-type:/i.test(f)) ?? 'Content-Type: text/plain';
  const boundary = /^content-type:\s*multipart\/mixed;[\s\S]*?boundary="?([^";\r\n]+)"?/i.exec(type)?.[1];
  if (boundary) {
    const close = body.lastIndexOf(`\r\n--${boundary}--`);
    const added = parts.map((p) => `--${boundary}\r\n${p}`).join('');
    return Buffer.from(
      `${fields.join('\r\n')}\r\n\r\n${body.slice(0, close + 2)}${added}${body.slice(close + 2)}`,
      'latin1',
    );
  }
  const outer = `----=_exchange_${randomUUID()}`;
  const moved = fields.filter((f) => /^content-(type|transfer-encoding):/i.test(f));
  const kept = fields.filter((f) => !/^content-(type|transfer-encoding):/i.test(f));
  const first = `--${outer}\r\n${moved.join('\r\n')}\r\n\r\n${body}\r\n`;
  return Buffer.from(
    `${[...kept, `Content-Type: multipart/mixed; boundary="${outer}"`].join('\r\n')}\r\n\r\n${first}${parts.map((p) => `--${outer}\r\n${p}`).join('')}--${outer}--\r\n`,
    'latin1',
  );
}

function partOf(a: { name: string; contentType: string; bytes: Buffer }): Promise<string> {
  const node = new MimeNode('multipart/mixed').createChild(a.contentType, { filename: a.name });
  node.setContent(a.bytes);
  return new Promise((resolve, reject) =>
    node.build((error: Error | null, built: Buffer) => (error ? reject(error) : resolve(built.toString('latin1')))),
  );
}
