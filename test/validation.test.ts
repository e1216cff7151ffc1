import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mailRequest, startHarness, type Harness } from './harness.js';

interface Case {
  name: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  status: 400 | 403 | 413;
  /** The field the error must point at ('' for the body as a whole). */
  path?: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const attachment = (overrides: Record<string, unknown> = {}) => ({
  filename: 'a.txt',
  contentType: 'text/plain',
  contentBase64: b64('hi'),
  ...overrides,
});
const many = (n: number) => Array.from({ length: n }, (_, i) => `r${i}@fabrikam.example`);
const headers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));

const cases: Case[] = [
  { name: 'a body that is not JSON', raw: 'to=ada@fabrikam.example', status: 400, path: '' },
  { name: 'an empty body', raw: '', status: 400, path: '' },
  { name: 'a JSON array', raw: '[]', status: 400, path: '' },
  { name: 'JSON null', raw: 'null', status: 400, path: '' },
  { name: 'a JSON string', raw: '"hello"', status: 400, path: '' },
  { name: 'truncated JSON', raw: '{"to": ["ada@fabrikam.example"', status: 400, path: '' },
  { name: 'no recipient at all', body: mailRequest({ to: undefined }), status: 400, path: 'to' },
  { name: 'an empty recipient list', body: mailRequest({ to: [] }), status: 400, path: 'to' },
  { name: 'no subject', body: mailRequest({ subject: undefined }), status: 400, path: 'subject' },
  { name: 'a numeric subject', body: mailRequest({ subject: 42 }), status: 400, path: 'subject' },
  { name: 'neither text nor html', body: mailRequest({ text: undefined }), status: 400, path: 'text' },
  { name: 'a numeric text body', body: mailRequest({ text: 7 }), status: 400, path: 'text' },
  { name: 'an object as html', body: mailRequest({ html: { p: 'x' } }), status: 400, path: 'html' },
  { name: 'a bare word as recipient', body: mailRequest({ to: 'ada' }), status: 400, path: 'to[0]' },
  {
    name: 'a bad second recipient',
    body: mailRequest({ to: ['ada@fabrikam.example', 'not an address'] }),
    status: 400,
    path: 'to[1]',
  },
  { name: 'a number as recipient', body: mailRequest({ to: [123] }), status: 400, path: 'to[0]' },
  { name: 'a bad cc', body: mailRequest({ cc: 'grace@' }), status: 400, path: 'cc[0]' },
  { name: 'an object as bcc', body: mailRequest({ bcc: [{}] }), status: 400, path: 'bcc[0]' },
  { name: 'an invalid From', body: mailRequest({ from: 'exosend' }), status: 400, path: 'from' },
  {
    name: 'a From that is not an allowed sender',
    body: mailRequest({ from: 'ceo@contoso.example' }),
    status: 403,
    path: 'from',
  },
  {
    name: 'a From on another domain',
    body: mailRequest({ from: 'spoof@fabrikam.example' }),
    status: 403,
    path: 'from',
  },
  { name: 'an invalid Reply-To', body: mailRequest({ replyTo: 'desk at contoso' }), status: 400, path: 'replyTo' },
  {
    name: 'CRLF header injection in the subject',
    body: mailRequest({ subject: 'Hi\r\nBcc: victim@fabrikam.example' }),
    status: 400,
    path: 'subject',
  },
  { name: 'a bare LF in the subject', body: mailRequest({ subject: 'Hi\nX-Evil: 1' }), status: 400, path: 'subject' },
  {
    name: 'CRLF injection in a recipient',
    body: mailRequest({ to: ['ada@fabrikam.example\r\nBcc: victim@fabrikam.example'] }),
    status: 400,
    path: 'to[0]',
  },
  {
    name: 'CRLF injection in the From',
    body: mailRequest({ from: 'exosend@contoso.example\r\nSender: x@y.example' }),
    status: 400,
    path: 'from',
  },
  {
    name: 'CRLF injection in a header value',
    body: mailRequest({ headers: { 'X-Ticket': '1\r\nBcc: victim@fabrikam.example' } }),
    status: 400,
    path: 'headers.X-Ticket',
  },
  {
    name: 'a NUL in a header value',
    body: mailRequest({ headers: { 'X-Ticket': 'a\0b' } }),
    status: 400,
    path: 'headers.X-Ticket',
  },
  {
    name: 'a custom Bcc header',
    body: mailRequest({ headers: { Bcc: 'victim@fabrikam.example' } }),
    status: 400,
    path: 'headers.Bcc',
  },
  {
    name: 'a custom From header',
    body: mailRequest({ headers: { from: 'ceo@contoso.example' } }),
    status: 400,
    path: 'headers.from',
  },
  {
    name: 'a custom Subject header',
    body: mailRequest({ headers: { Subject: 'other' } }),
    status: 400,
    path: 'headers.Subject',
  },
  {
    name: 'a custom Sender header',
    body: mailRequest({ headers: { Sender: 'ceo@contoso.example' } }),
    status: 400,
    path: 'headers.Sender',
  },
  {
    name: 'a custom Message-ID header',
    body: mailRequest({ headers: { 'Message-ID': '<x@y>' } }),
    status: 400,
    path: 'headers.Message-ID',
  },
  {
    name: 'a custom Content-Type header',
    body: mailRequest({ headers: { 'Content-Type': 'text/html' } }),
    status: 400,
    path: 'headers.Content-Type',
  },
  {
    name: 'a header name with a space',
    body: mailRequest({ headers: { 'X Bad': '1' } }),
    status: 400,
    path: 'headers.X Bad',
  },
  {
    name: 'a header name with a colon',
    body: mailRequest({ headers: { 'X-A:B': '1' } }),
    status: 400,
    path: 'headers.X-A:B',
  },
  {
    name: 'a numeric header value',
    body: mailRequest({ headers: { 'X-Count': 3 } }),
    status: 400,
    path: 'headers.X-Count',
  },
  { name: 'too many headers', body: mailRequest({ headers: headers(51) }), status: 400, path: 'headers' },
  {
    name: 'attachments that are not a list',
    body: mailRequest({ attachments: attachment() }),
    status: 400,
    path: 'attachments',
  },
  {
    name: 'an attachment that is not base64',
    body: mailRequest({ attachments: [attachment({ contentBase64: '@@not base64@@' })] }),
    status: 400,
    path: 'attachments[0].contentBase64',
  },
  {
    name: 'base64 with bad padding',
    body: mailRequest({ attachments: [attachment({ contentBase64: 'abc' })] }),
    status: 400,
    path: 'attachments[0].contentBase64',
  },
  {
    name: 'base64url instead of base64',
    body: mailRequest({ attachments: [attachment({ contentBase64: '-_-_' })] }),
    status: 400,
    path: 'attachments[0].contentBase64',
  },
  {
    name: 'an attachment without a file name',
    body: mailRequest({ attachments: [attachment({ filename: undefined })] }),
    status: 400,
    path: 'attachments[0].filename',
  },
  {
    name: 'an attachment named with a path',
    body: mailRequest({ attachments: [attachment({ filename: '../../etc/passwd' })] }),
    status: 400,
    path: 'attachments[0].filename',
  },
  {
    name: 'CRLF in an attachment name',
    body: mailRequest({ attachments: [attachment({ filename: 'a.txt\r\nX-Evil: 1' })] }),
    status: 400,
    path: 'attachments[0].filename',
  },
  {
    name: 'a bad media type',
    body: mailRequest({ attachments: [attachment({ contentType: 'pdf' })] }),
    status: 400,
    path: 'attachments[0].contentType',
  },
  {
    name: 'a multipart attachment type',
    body: mailRequest({ attachments: [attachment({ contentType: 'multipart/mixed' })] }),
    status: 400,
    path: 'attachments[0].contentType',
  },
  {
    name: 'a message/rfc822 attachment type',
    body: mailRequest({ attachments: [attachment({ contentType: 'message/rfc822' })] }),
    status: 400,
    path: 'attachments[0].contentType',
  },
  {
    name: 'an attachment that asks to read a file',
    body: mailRequest({ attachments: [attachment({ path: '/etc/passwd' })] }),
    status: 400,
    path: 'attachments[0]',
  },
  {
    name: 'an attachment that asks to fetch a URL',
    body: mailRequest({ attachments: [attachment({ href: 'http://169.254.169.254/' })] }),
    status: 400,
    path: 'attachments[0]',
  },
  { name: 'an unknown top-level field', body: mailRequest({ sender: 'ceo@contoso.example' }), status: 400, path: '' },
  {
    name: 'a __proto__ key',
    raw: JSON.stringify(mailRequest()).replace('{', '{"__proto__":{"admin":true},'),
    status: 400,
    path: '',
  },
  { name: 'more than 500 recipients', body: mailRequest({ to: many(300), cc: many(201) }), status: 400, path: 'to' },
  {
    name: 'an idempotency key that is too long',
    body: mailRequest({ idempotencyKey: 'k'.repeat(129) }),
    status: 400,
    path: 'idempotencyKey',
  },
  {
    name: 'an idempotency key with a slash',
    body: mailRequest({ idempotencyKey: 'orders/17' }),
    status: 400,
    path: 'idempotencyKey',
  },
  {
    name: 'attachments over 35 MB',
    body: mailRequest({ attachments: [attachment({ contentBase64: 'QUFB'.repeat(9.5 * 1024 * 1024) })] }),
    status: 413,
  },
  {
    name: 'a body over the size limit',
    raw: JSON.stringify(mailRequest({ text: 'x'.repeat(40 * 1024 * 1024) })),
    status: 413,
  },
  {
    name: 'a Content-Length over the size limit',
    body: mailRequest(),
    headers: { 'content-length': String(100 * 1024 * 1024) },
    status: 413,
  },
];

describe('POST /api/send with a malformed or hostile request', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());

  for (const c of cases) {
    it(`when the request has ${c.name}, then it is answered ${c.status}${c.path === undefined ? '' : ` pointing at "${c.path}"`}`, async () => {
      const reply = await h.send(c.body, {
        ...(c.raw !== undefined && { raw: c.raw }),
        ...(c.headers && { headers: c.headers }),
      });
      assert.equal(reply.status, c.status, JSON.stringify(reply.body).slice(0, 500));
      assert.equal(typeof reply.body.error.code, 'string');
      assert.equal(typeof reply.body.error.message, 'string');
      if (c.path !== undefined) {
        const paths = reply.body.error.details.map((d: { path: string }) => d.path);
        assert.ok(
          paths.includes(c.path),
          `expected a detail at "${c.path}", got ${JSON.stringify(reply.body.error.details)}`,
        );
      }
    });
  }

  it('when all of those were refused, then nothing reached Exchange, Entra or the vault', () => {
    assert.equal(h.sandbox.exchange.counters.connections, 0);
    assert.equal(h.sandbox.exchange.messages.length, 0);
    assert.equal(h.sandbox.identity.counters.tokenRequests, 0);
    assert.equal(h.sandbox.vault.reads, 0);
  });
});
