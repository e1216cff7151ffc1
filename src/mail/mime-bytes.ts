import type MimeNode from 'nodemailer/lib/mime-node/index.js';
import * as base64 from 'nodemailer/lib/base64/index.js';
import * as qp from 'nodemailer/lib/qp/index.js';

/**
 * Contents up to this size are written in memory. It is the slice nodemailer's Quoted-Printable
 * encoder encodes at a time (lib/qp/index.js: ENCODE_SLICE_SIZE), so such a content is one slice
 * there too (see quotedPrintable); a larger one (an attachment) keeps the stream's bounded copies.
 */
const maxContentBytes = 64 * 1024;

/** What nodemailer's MimeNode keeps of its own: a tree that uses any of it is built by nodemailer itself. */
interface NodeInternals {
  _raw?: unknown;
  _transforms?: unknown[];
  _processFuncs?: unknown[];
}

/**
 * The message a compiled MailComposer tree streams from `build()`, byte for byte, written in memory
 * when every content of the tree is a string or a Buffer of up to 64 KiB; otherwise `build()` itself.
 *
 * `build()` streams each node through its own PassThrough, encoder and `stream.pipeline`, with a
 * `setImmediate` before every content and child: for a message of a few kilobytes that plumbing
 * costs several times what the bytes do (docs/benchmark-results.md). This walks the same tree as
 * `MimeNode.stream` does (lib/mime-node/index.js, nodemailer 10.6): each node's headers and a blank
 * line, its content in its transfer encoding, and a multipart node's children between boundary
 * lines; then the line break `LastNewline` ensures. Whether nodemailer builds it instead is decided
 * before any header is built. `test/mime-bytes.test.ts` holds the two to the same bytes; package.json
 * pins nodemailer's version, so that a new one ships only after that test has run against it.
 */
export function buildMime(root: MimeNode): Promise<Buffer> {
  if (!builtInMemory(root)) return root.build();
  const parts: Buffer[] = [];
  writeNode(root, parts);
  // LastNewline looks at the last byte of the last chunk that had any: writeNode pushes no empty one
  const last = parts[parts.length - 1]!;
  const lastByte = last[last.length - 1];
  if (lastByte !== 0x0a) parts.push(Buffer.from(lastByte === 0x0d ? '\n' : '\r\n'));
  return Promise.resolve(Buffer.concat(parts));
}

function builtInMemory(node: MimeNode): boolean {
  const own = node as MimeNode & NodeInternals;
  if (own._raw || own._transforms?.length !== 0 || own._processFuncs?.length !== 0) return false;
  if (node.newline) return false;
  const { content } = node;
  if (content) {
    if (typeof content !== 'string' && !Buffer.isBuffer(content)) return false;
    if (Buffer.byteLength(content) > maxContentBytes) return false;
    // stream() encodes Quoted-Printable outside text as binary (a lone CR or LF is data), which
    // quotedPrintable() does not. Text is tested first: for text, getTransferEncoding() scans the
    // whole content, which writeNode() and buildHeaders() each do again
    if (!isText(node.getHeader('Content-Type')) && node.getTransferEncoding() === 'quoted-printable') return false;
  }
  return node.childNodes.every(builtInMemory);
}

/** As stream() tests `this.contentType`, the Content-Type's value that buildHeaders() will have parsed. */
function isText(contentType: unknown): boolean {
  return typeof contentType === 'string' && /^\s*text\//i.test(contentType);
}

function writeNode(node: MimeNode, parts: Buffer[]): void {
  // as stream(): the encoding is decided before buildHeaders() names it in Content-Transfer-Encoding
  const transferEncoding = node.getTransferEncoding();
  parts.push(Buffer.from(`${node.buildHeaders()}\r\n\r\n`));
  const content = node.content as string | Buffer | undefined;
  if (content) {
    const bytes = encoded(content, transferEncoding);
    if (bytes.length > 0) parts.push(bytes);
  }
  // multipart and boundary are set by buildHeaders()
  if (!node.multipart) return;
  for (const [i, child] of node.childNodes.entries()) {
    parts.push(Buffer.from(`${i > 0 ? '\r\n' : ''}--${node.boundary}\r\n`));
    writeNode(child, parts);
  }
  parts.push(Buffer.from(`\r\n--${node.boundary}--\r\n`));
}

function encoded(content: string | Buffer, transferEncoding: string | false): Buffer {
  if (transferEncoding === 'base64') return Buffer.from(base64.wrap(base64.encode(content), 76), 'latin1');
  if (transferEncoding === 'quoted-printable') return Buffer.from(quotedPrintable(content), 'latin1');
  return typeof content === 'string' ? Buffer.from(content) : content;
}

/**
 * What nodemailer's QP Encoder writes for text given in one chunk of one slice. It holds back the
 * whitespace the input ends with, writes the rest wrapped but for its last line, and then wraps
 * that line with the held-back whitespace encoded (lib/qp/index.js: Encoder `_transform`,
 * `_encodeSlice`, `_flush`). Wrapping it all at once would break a line of 52-76 characters that
 * ends in a space where the encoder does not.
 */
function quotedPrintable(content: string | Buffer): string {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09)) end--;
  const head = end > 0 ? qp.wrap(qp.encode(bytes.subarray(0, end)), 76) : '';
  if (end === bytes.length) return head;
  const lineStart = head.lastIndexOf('\n') + 1;
  return head.slice(0, lineStart) + qp.wrap(head.slice(lineStart) + qp.encode(bytes.subarray(end)), 76);
}
