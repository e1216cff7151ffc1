import type { SendMailOptions } from 'nodemailer';
import { composeMime, withBccHeader, type ComposedMail } from '../mail/mime.js';
import { RequestRejected } from '../mail/request-rejected.js';
import { GraphError, type GraphClient, type GraphRequest, type GraphResponse } from './graph-client.js';

/**
 * A message above sendMail's 4 MB, as microsoftgraph/microsoft-graph-docs-contrib describes the way:
 * the draft from the MIME (api-reference/v1.0/api/user-post-messages.md, Example 3: `POST
 * /users/{id}/messages`, text/plain, base64), each attachment it could not carry through a plain
 * `POST .../attachments` when under 3 MB (message-post-attachments.md) or an upload session
 * (attachment-createuploadsession.md, concepts/outlook-large-attachments.md: PUTs of up to 4 MB to
 * the pre-authenticated uploadUrl with Content-Range, no Authorization header), then
 * `POST .../messages/{id}/send` (message-send.md, 202). Every step but the send needs the
 * application permission Mail.ReadWrite.
 */
export const graphMailReadWriteRole = 'Mail.ReadWrite';
/** Each PUT to an upload URL carries at most this ("up to 4 MB each time"). */
export const uploadChunkInBytes = 4 * 1024 * 1024;
/** Below this an attachment goes in one plain POST ("under 3 MB"; counted in decimal, so its JSON stays under 4 MiB). */
export const plainAttachmentLimitInBytes = 3_000_000;

export interface DraftSendOptions {
  client: GraphClient;
  mailbox: string;
  clientId: string;
  rolesMode: 'entra' | 'rbac';
  /** The most a request body may carry (Graph's 4 MB). */
  requestLimitInBytes: number;
  /** Called before each request to Graph, so the transport counts them. */
  onRequest?: () => void;
}

/** A step before the send failed: nothing went out, the draft is gone (when it had an id). */
export class NothingSent extends Error {
  override readonly name = 'NothingSent';
  constructor(override readonly cause: unknown) {
    super("Microsoft Graph's draft path failed before the send: nothing was sent");
  }
}

interface Attachment {
  name: string;
  contentType: string;
  bytes: Buffer;
}

/**
 * Sends `mail` through a draft. Returns the send's status line. Throws RequestRejected (413, naming
 * Mail.ReadWrite) where the permission is missing, NothingSent for any other failure before the
 * send, and the send's own GraphError otherwise: after the send request went out, nothing is retried
 * or sent again here.
 */
export async function sendThroughDraft(mail: ComposedMail, options: DraftSendOptions): Promise<string> {
  const { client, mailbox } = options;
  if (options.rolesMode === 'entra' && !(await client.roles()).includes(graphMailReadWriteRole)) {
    throw permissionMissing(mail, 'the Graph token holds no Mail.ReadWrite');
  }
  const attachments = attachmentsOf(mail);
  if (!mail.source || !attachments)
    throw tooLargeForDraft(mail, 'it was not composed from a request exosend can compose again');
  const plan = await planDraft(mail, mail.source, attachments, options.requestLimitInBytes);
  const request = (r: GraphRequest): Promise<GraphResponse> => {
    options.onRequest?.();
    return client.request(r);
  };
  const user = `/v1.0/users/${encodeURIComponent(mailbox)}`;
  let messagePath: string | undefined;
  try {
    const draft = await request({
      method: 'POST',
      path: `${user}/messages`,
      contentType: 'text/plain',
      body: plan.body,
    });
    const id = (draft.json as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string' || !id)
      throw new GraphError(draft.status, 'NoDraftId', 'the draft was created without an id', undefined);
    messagePath = `${user}/messages/${encodeURIComponent(id)}`;
    for (const attachment of plan.separate) {
      if (
        attachment.bytes.length < plainAttachmentLimitInBytes &&
        plainBody(attachment).length <= options.requestLimitInBytes
      ) {
        await request({
          method: 'POST',
          path: `${messagePath}/attachments`,
          contentType: 'application/json',
          body: plainBody(attachment),
        });
      } else {
        await upload(attachment, messagePath, request, options);
      }
    }
  } catch (error) {
    if (messagePath) await deleteDraft(request, messagePath);
    if (error instanceof GraphError && error.status === 403)
      throw permissionMissing(mail, `Microsoft Graph answered 403 ${error.code ?? ''} to the draft`.trim());
    throw new NothingSent(nothingSentError(error));
  }
  try {
    const sent = await request({ method: 'POST', path: `${messagePath}/send` });
    return `${sent.status} Accepted`;
  } catch (error) {
    // refused with an answer: it did not go, and the draft goes too; no answer (or a gateway
    // timeout) may have sent it, so the draft is left as it is and nothing is tried again
    if (error instanceof GraphError && error.status !== undefined && error.status !== 504)
      await deleteDraft(request, messagePath);
    throw error;
  }
}

/**
 * The draft's MIME: the message composed again from the same options (so the same Message-ID and
 * Date), keeping the longest run of its first attachments that leaves the request within the
 * limit; the rest go one by one after it, so the attachments keep their order.
 */
async function planDraft(
  mail: ComposedMail,
  source: SendMailOptions,
  attachments: Attachment[],
  limit: number,
): Promise<{ body: string; separate: Attachment[] }> {
  const date = /^Date:[ \t]*([^\r\n]+)/im.exec(mail.raw.subarray(0, headerEnd(mail.raw)).toString('latin1'))?.[1];
  const compose = async (keep: number) => {
    const again = await composeMime({
      ...source,
      ...(date && { date }),
      attachments: (source.attachments ?? []).slice(0, keep),
    });
    return withBccHeader(again).toString('base64');
  };
  const base = Buffer.byteLength(await compose(0));
  // base64 in the MIME (76 characters and CRLF a line), then base64 again for the request, plus the part's headers
  const estimate = (a: Attachment) => Math.ceil((Math.ceil(a.bytes.length / 3) * 4 * 78) / 76 / 3) * 4 + 1024;
  let keep = 0;
  for (let total = base; keep < attachments.length && total + estimate(attachments[keep]!) <= limit; keep += 1)
    total += estimate(attachments[keep]!);
  for (;;) {
    const body = await compose(keep);
    if (Buffer.byteLength(body) <= limit) return { body, separate: attachments.slice(keep) };
    if (keep === 0)
      throw tooLargeForDraft(
        mail,
        "its text and headers alone are above Graph's 4 MB per request: only attachments can go separately",
      ); // no attachment left to take out
    keep -= 1;
  }
}

async function upload(
  attachment: Attachment,
  messagePath: string,
  request: (r: GraphRequest) => Promise<GraphResponse>,
  options: DraftSendOptions,
): Promise<void> {
  const size = attachment.bytes.length;
  const session = await request({
    method: 'POST',
    path: `${messagePath}/attachments/createUploadSession`,
    contentType: 'application/json',
    body: JSON.stringify({
      AttachmentItem: { attachmentType: 'file', name: attachment.name, size, contentType: attachment.contentType },
    }),
  });
  const uploadUrl = (session.json as { uploadUrl?: unknown } | undefined)?.uploadUrl;
  if (typeof uploadUrl !== 'string' || !/^https:\/\//i.test(uploadUrl))
    throw new GraphError(
      session.status,
      'NoUploadUrl',
      'the upload session came without an https uploadUrl',
      undefined,
    );
  let start = 0;
  while (start < size) {
    const end = Math.min(start + uploadChunkInBytes, size) - 1;
    options.onRequest?.();
    const answer = await options.client.requestUrl(uploadUrl, {
      method: 'PUT',
      contentType: 'application/octet-stream',
      headers: { 'content-range': `bytes ${start}-${end}/${size}` },
      body: attachment.bytes.subarray(start, end + 1),
    });
    if (answer.status === 201) return;
    // 200: Graph names the next range it expects ("{start}-"); in order, it is the byte after this chunk
    const next = Number(
      /^(\d+)-/.exec(
        String((answer.json as { nextExpectedRanges?: string[] } | undefined)?.nextExpectedRanges?.[0] ?? ''),
      )?.[1] ?? end + 1,
    );
    if (!(next > start))
      throw new GraphError(answer.status, 'UploadStalled', `the upload session expects byte ${next} again`, undefined);
    start = next;
  }
  throw new GraphError(
    undefined,
    undefined,
    undefined,
    undefined,
    'timeout',
    'the upload session did not finish after its last byte',
  );
}

async function deleteDraft(request: (r: GraphRequest) => Promise<GraphResponse>, messagePath: string): Promise<void> {
  // best effort: a draft that stays behind is in the mailbox's Drafts, never sent
  await request({ method: 'DELETE', path: messagePath }).catch(() => undefined);
}

function plainBody(a: Attachment): string {
  return JSON.stringify({
    '@odata.type': '#microsoft.graph.fileAttachment',
    name: a.name,
    contentType: a.contentType,
    contentBytes: a.bytes.toString('base64'),
  });
}

/** Before the send, no answer cannot have sent anything: it is safe to try again from the start. */
function nothingSentError(error: unknown): unknown {
  if (error instanceof GraphError && error.status === undefined) {
    return new GraphError(
      undefined,
      undefined,
      undefined,
      undefined,
      'unreachable',
      `${error.detail ?? 'no answer'} while the draft was prepared; nothing was sent`,
    );
  }
  return error;
}

/** The attachments as bytes, or undefined when one is not held in memory (exosend's requests always are). */
function attachmentsOf(mail: ComposedMail): Attachment[] | undefined {
  const list = mail.source?.attachments ?? [];
  const out: Attachment[] = [];
  for (const [i, a] of list.entries()) {
    const content = a.content;
    const bytes =
      typeof content === 'string'
        ? Buffer.from(content, a.encoding === 'base64' ? 'base64' : 'utf8')
        : Buffer.isBuffer(content)
          ? content
          : undefined;
    if (!bytes) return undefined;
    out.push({
      name: typeof a.filename === 'string' ? a.filename : `attachment-${i + 1}`,
      contentType: a.contentType ?? 'application/octet-stream',
      bytes,
    });
  }
  return out;
}

function headerEnd(raw: Buffer): number {
  const end = raw.indexOf('\r\n\r\n');
  return end < 0 ? raw.length : end;
}

function sizeOf(mail: ComposedMail): number {
  return Buffer.byteLength(withBccHeader(mail).toString('base64'));
}

/**
 * A refusal of the caller's own request: every caller reads its message whole (src/http/caller-view.ts),
 * so it names the permission but none of the app's ids and no admin command; `exosend doctor` gives
 * those to the admin (cli/doctor-graph.ts).
 */
function permissionMissing(mail: ComposedMail, why: string): RequestRejected {
  return new RequestRejected(
    'MESSAGE_TOO_LARGE',
    `The message is ${sizeOf(mail)} bytes as Graph's sendMail would carry it (base64), above its limit of about 4 MB. A larger one goes through a draft and upload sessions, which need Microsoft Graph's application permission Mail.ReadWrite, and ${why}. ` +
      'Send it by SMTP, or smaller; or ask the admin to grant Mail.ReadWrite (with RBAC for Applications, the role Application Mail.ReadWrite; `exosend doctor` names the steps). Nothing was sent.',
    [{ path: 'attachments', message: 'above 4 MB once encoded, through Microsoft Graph: needs Mail.ReadWrite' }],
  );
}

function tooLargeForDraft(mail: ComposedMail, why: string): RequestRejected {
  return new RequestRejected(
    'MESSAGE_TOO_LARGE',
    `The message is ${sizeOf(mail)} bytes as Graph carries it (base64), above its 4 MB per request, and ${why}: send it by SMTP, or smaller. Nothing was sent.`,
    [{ path: 'html', message: 'the body and headers must stay under 4 MB once encoded, through Microsoft Graph' }],
  );
}
