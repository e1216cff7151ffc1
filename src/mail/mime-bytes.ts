import type MimeNode from 'nodemailer/lib/mime-node/index.js';
import * as base64 from 'nodemailer/lib/base64/index.js';
import * as qp from 'nodemailer/lib/qp/index.js';

/**
 * Content up to this size is encoded at once. It is also the slice nodemailer's Quoted-Printable
 * encoder works in (lib/qp/index.js: ENCODE_SLICE_SIZE), so that, up to it, its stream writes what
 * `wrap(encode(content))` returns; and larger content (an attachment) keeps the stream's bounded copies.
 */
const maxContentBytes = 64 * 1024;

/** What nodemailer's MimeNode keeps of its own: a tree that uses any of it is built by nodemailer itself. */
interface NodeInternals {
  _raw?: unknown;
  _transforms?: unknown[];
  _processFuncs?: unknown[];
}

/**
 * The message a compiled MailComposer tree streams from `build()`, byte for byte, for a tree whose
 * every content is a string or a Buffer; otherwise `build()` itself.
 *
 * `build()` streams each node through its own PassThrough, encoder and `stream.pipeline`, with a
 * `setImmediate` before every content and child. For a message of a few kilobytes that plumbing
 * costs four times what the bytes do (docs/benchmark-results.md). This walks the same tree the
 * way `MimeNode.stream` does (lib/mime-node/index.js): each node's headers and a blank line, its
 * content in its transfer encoding, and a multipart node's children between boundary lines; then
 * the line break `LastNewline` ensures. `test/mime-bytes.test.ts` holds the two to the same bytes.
 */
export function buildMime(root: MimeNode): Promise<Buffer> {
  const parts: Buffer[] = [];
  // a node met on the way that only nodemailer encodes: build() builds the same headers again
  if (!builtInMemory(root) || !writeNode(root, parts)) return root.build();
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
  }
  return node.childNodes.every(builtInMemory);
}

/** Writes the node as stream() does; false when a content is one only nodemailer's encoders write. */
function writeNode(node: MimeNode, parts: Buffer[]): boolean {
  // as stream(): the encoding is decided before buildHeaders() names it in Content-Transfer-Encoding
  const transferEncoding = node.getTransferEncoding();
  parts.push(Buffer.from(`${node.buildHeaders()}\r\n\r\n`));
  const content = node.content as string | Buffer | undefined;
  if (content) {
    const bytes = encoded(node, content, transferEncoding);
    if (!bytes) return false;
    parts.push(bytes);
  }
  // multipart and boundary are set by buildHeaders()
  if (!node.multipart) return true;
  for (const [i, child] of node.childNodes.entries()) {
    parts.push(Buffer.from(`${i > 0 ? '\r\n' : ''}--${node.boundary}\r\n`));
    if (!writeNode(child, parts)) return false;
  }
  parts.push(Buffer.from(`\r\n--${node.boundary}--\r\n`));
  return true;
}

function encoded(node: MimeNode, content: string | Buffer, transferEncoding: string | false): Buffer | undefined {
  if (transferEncoding === 'base64') return Buffer.from(base64.wrap(base64.encode(content), 76), 'latin1');
  if (transferEncoding === 'quoted-printable')
    // stream() encodes anything but text as binary (a lone CR or LF is data), which encode() does not;
    // contentType is set by buildHeaders()
    return /^text\//.test(node.contentType ?? '') ? Buffer.from(qp.wrap(qp.encode(content), 76), 'latin1') : undefined;
  return typeof content === 'string' ? Buffer.from(content) : content;
}
