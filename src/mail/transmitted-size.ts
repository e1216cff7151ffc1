import { hasLongerLines, isPlainText } from 'nodemailer/lib/mime-funcs';
import type { MailRequest } from './mail-request.js';

/**
 * What Exchange will count: the message as nodemailer transmits it. Base64 gains a CRLF every 76
 * characters; a text part goes out as it is (7bit), quoted-printable or base64, as nodemailer
 * picks; every part has MIME headers and a boundary; on the wire a bare LF becomes CRLF and a line
 * that starts with a dot gains another. Never less than the real size (test/transmitted-size.test.ts
 * sends adversarial messages through nodemailer's own composer and SMTP data stream to hold it to
 * that), and at most about 15% above it (the most for small, plain bodies).
 */
export function transmittedSize(request: MailRequest): number {
  const parts = [request.text, request.html].filter((body): body is string => body !== undefined);
  const bodies = parts.reduce((sum, body) => sum + bodySize(body) + partOverhead, 0);
  // the file name goes out twice (Content-Type's name, Content-Disposition's filename)
  const attachments = request.attachments.reduce(
    (sum, a) =>
      sum +
      base64Lines(a.contentBase64.length) +
      partOverhead +
      (a.contentType?.length ?? 0) +
      2 * parameterSize(a.filename),
    0,
  );
  return headersSize(request) + bodies + attachments + messageOverhead;
}

/** Content-Type, Content-Transfer-Encoding, Content-Disposition and a boundary line, generously. */
const partOverhead = 512;
/** Date, MIME-Version, Message-ID, the multipart containers' headers and closing boundaries. */
const messageOverhead = 4096;

/** Headers written from the request (Bcc is not: it travels in the envelope only). */
function headersSize(request: MailRequest): number {
  const addressLists = [request.to, request.cc].map((list) => headerValueSize(list.join(', ')));
  const values = [
    request.from ?? '',
    request.replyTo ?? '',
    request.subject,
    ...Object.entries(request.headers).flat(),
  ];
  return values.reduce((sum, value) => sum + headerValueSize(value), addressLists[0]! + addressLists[1]!);
}

/** A MIME parameter (a file name): as it is when plain, else RFC 2231 percent-encoding, split in numbered pieces. */
function parameterSize(value: string): number {
  if (isPlainText(value)) return Math.ceil(value.length * 1.05) + 96;
  const encoded = Buffer.byteLength(value) * 3;
  return encoded + 16 * Math.ceil(encoded / 40) + 96;
}

/** A value folded (CRLF and a space every 76 or so), or as encoded words when it is not plain text. */
function headerValueSize(value: string): number {
  if (isPlainText(value)) return Math.ceil(value.length * 1.05) + 96;
  const bytes = Buffer.byteLength(value);
  // =?UTF-8?Q?...?= or =?UTF-8?B?...?= words of at most 52 bytes, each with its markers and a fold
  const encoded = textEncoding(value) === 'Q' ? bytes * 3 : Math.ceil(bytes / 3) * 4;
  return encoded + 16 * Math.ceil(encoded / 40) + 96;
}

function bodySize(body: string): number {
  const bytes = Buffer.byteLength(body);
  if (isPlainText(body) && !hasLongerLines(body, 76)) return onTheWire(body); // 7bit
  if (textEncoding(body) === 'B') return base64Lines(Math.ceil(bytes / 3) * 4);
  return quotedPrintableSize(body);
}

/** nodemailer's choice for a text that is not plain: quoted-printable when Latin letters outnumber the rest. */
function textEncoding(value: string): 'Q' | 'B' {
  let latin = 0;
  let other = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) latin++;
    else if (c <= 0x08 || c === 0x0b || c === 0x0c || (c >= 0x0e && c <= 0x1f) || c >= 0x80) other++;
  }
  return other < latin ? 'Q' : 'B';
}

/** Base64 text of `length` characters, with CRLF after every 76. */
const base64Lines = (length: number) => length + 2 * Math.ceil(length / 76);

/**
 * Quoted-printable: =XX for a byte that is not printable ASCII, LF as CRLF, a soft break (=CRLF)
 * every 73 or so, and a stuffed dot on any line, hard or soft, that may start with one.
 */
function quotedPrintableSize(body: string): number {
  let encoded = 0;
  for (const byte of Buffer.from(body))
    encoded += (byte >= 0x20 && byte <= 0x7e && byte !== 0x3d) || byte === 0x0a ? 1 : 3;
  const softLines = Math.ceil(encoded / 72);
  return encoded + 2 * countLineFeeds(body) + 4 * softLines;
}

/** ASCII text as nodemailer's SMTP data stream sends it: a bare CR or LF becomes CRLF, a dot that starts a line is doubled. */
function onTheWire(text: string): number {
  let size = text.length;
  for (let i = 0, previous = -1; i < text.length; previous = text.charCodeAt(i), i++) {
    const c = text.charCodeAt(i);
    if (previous === 0x0d && c !== 0x0a) size += c === 0x2e ? 2 : 1;
    else if (c === 0x0a && previous !== 0x0d) size += 1;
    else if (c === 0x2e && (previous === 0x0a || previous === -1)) size += 1;
  }
  return size + 2;
}

function countLineFeeds(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}
