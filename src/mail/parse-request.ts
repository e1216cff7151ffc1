import type { ExosendConfig } from '../config/load-config.js';
import { RequestRejected, type FieldProblem } from './request-rejected.js';
import { jsonTextProblem, jsonValueProblem } from './json-limits.js';
import { mailLimits, mailRequestSchema, type MailRequest } from './mail-request.js';
import { transmittedSize } from './transmitted-size.js';

/** JSON text of a request may weigh a little more than its encoded message (keys, escapes). */
export const maxBodyBytes = Math.ceil(mailLimits.maxMessageBytes * 1.1);

/**
 * Turns what a caller sent into a request exosend will send, or says why not.
 * Checks what exosend owns -- shape, senders, limits, header values -- and leaves the rest to Exchange.
 * Its cost is bounded by one pass over the body: JSON too deep or with too many values is refused
 * before it is parsed, a list longer than its limit before its elements are looked at, and an
 * answer carries at most 20 details.
 */
export function parseMailRequest(body: unknown, config: Pick<ExosendConfig, 'allowedSenders'>): MailRequest {
  if (typeof body === 'string' && Buffer.byteLength(body) > maxBodyBytes) throw tooLarge();
  const json = typeof body === 'string' ? parseJson(body) : body;
  const shape = typeof body === 'string' ? undefined : jsonValueProblem(json);
  if (shape) throw badShape(shape);
  const parsed = mailRequestSchema.safeParse(json);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i): FieldProblem => ({
      path: formatPath(i.path),
      // a bad record key says only "Invalid key": the reason is one level down
      message: i.code === 'invalid_key' ? (i.issues[0]?.message ?? i.message) : i.message,
    }));
    throw new RequestRejected('INVALID_REQUEST', 'The mail request is not valid.', details);
  }
  const request = parsed.data;
  if (transmittedSize(request) > mailLimits.maxMessageBytes) throw tooLarge();
  const from = request.from?.toLowerCase();
  if (from !== undefined && !config.allowedSenders.includes(from)) {
    throw new RequestRejected('SENDER_NOT_ALLOWED', 'This From address is not one exosend may send as.', [
      { path: 'from', message: 'must be one of the allowed senders (EXOSEND_ALLOWED_SENDERS)' },
    ]);
  }
  return request;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A body's bytes as text; invalid UTF-8 is refused rather than sent with replacement characters. */
export function decodeUtf8Body(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new RequestRejected('INVALID_REQUEST', 'The request body is not valid UTF-8.', [
      { path: '', message: 'must be UTF-8 text' },
    ]);
  }
}

function parseJson(text: string): unknown {
  const shape = jsonTextProblem(text);
  if (shape) throw badShape(shape);
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestRejected('INVALID_REQUEST', 'The request body is not valid JSON.', [
      { path: '', message: 'must be a JSON object' },
    ]);
  }
}

function badShape(problem: string): RequestRejected {
  return new RequestRejected('INVALID_REQUEST', 'The mail request is not shaped like one: it was not read.', [
    { path: '', message: problem },
  ]);
}

function tooLarge(): RequestRejected {
  const mb = mailLimits.maxMessageBytes / 1024 / 1024;
  return new RequestRejected(
    'MESSAGE_TOO_LARGE',
    `The message would exceed Exchange Online's ${mb} MB limit as transmitted (base64 and MIME included).`,
  );
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}
