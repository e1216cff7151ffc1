import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream.js';
import { composeMessage } from '../src/mail/compose.js';
import { mailRequestSchema } from '../src/mail/mail-request.js';
import { transmittedSize } from '../src/mail/transmitted-size.js';

/** The bytes nodemailer writes onto the SMTP connection after DATA: the composed message through its data stream (CRLF, stuffed dots). */
async function transmitted(request: Record<string, unknown>): Promise<number> {
  const mail = composeMessage(mailRequestSchema.parse(request), {
    id: 'size-check',
    mailbox: 'exosend@contoso.example',
  });
  const message = await new Promise<Buffer>((resolve, reject) =>
    new MailComposer(mail).compile().build((error, m) => (error ? reject(error) : resolve(m))),
  );
  const wire = new DataStream();
  let bytes = 0;
  wire.on('data', (chunk: Buffer) => (bytes += chunk.length));
  wire.end(message);
  await new Promise((resolve) => wire.on('end', resolve));
  return bytes - '\r\n.\r\n'.length;
}

const base = { to: ['ada@fabrikam.example'], subject: 'Size' };
const cases: Record<string, Record<string, unknown>> = {
  'plain ASCII text': { ...base, text: 'hello world\n'.repeat(20_000) },
  'one long ASCII line (quoted-printable)': { ...base, text: 'a'.repeat(300_000) },
  'equals signs everywhere (quoted-printable at its worst)': { ...base, text: 'ab='.repeat(100_000) },
  'mostly non-Latin text (base64)': { ...base, text: 'жук '.repeat(50_000) },
  'Latin text with accents (quoted-printable of UTF-8)': { ...base, text: 'café crème brûlée '.repeat(20_000) },
  'control characters': { ...base, text: '\u0001\u0002x'.repeat(50_000) },
  'lines that start with a dot, bare LF and bare CR (quoted-printable)': {
    ...base,
    text: '.\n..\r.x\n'.repeat(50_000),
  },
  'short lines that start with a dot, bare LF and bare CR (7bit)': { ...base, text: '.\n..\r.x\n'.repeat(10_000) },
  'html and text': { ...base, text: 'x'.repeat(10_000), html: `<p>${'é'.repeat(10_000)}</p>` },
  'attachments with long names': {
    ...base,
    text: 't',
    attachments: Array.from({ length: 20 }, (_, i) => ({
      filename: `${'ü'.repeat(200)}${i}.bin`,
      contentBase64: Buffer.alloc(30_000, i).toString('base64'),
    })),
  },
  '500 recipients and 50 non-ASCII headers': {
    ...base,
    to: Array.from({ length: 300 }, (_, i) => `recipient.number.${i}@fabrikam.example`),
    cc: Array.from({ length: 200 }, (_, i) => `copy.${i}@fabrikam.example`),
    subject: 'Ünïcödé '.repeat(100),
    text: 't',
    headers: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`X-H${i}`, 'ß€ '.repeat(300)])),
  },
};

describe('the size of a message as transmitted', () => {
  for (const [name, request] of Object.entries(cases)) {
    it(`when a message has ${name}, then the estimate is never below what nodemailer transmits, and at most 10% + 16 KB above`, async () => {
      const actual = await transmitted(request);
      const estimate = transmittedSize(mailRequestSchema.parse(request));
      assert.ok(estimate >= actual, `estimate ${estimate} < transmitted ${actual}`);
      assert.ok(estimate <= actual * 1.1 + 16_384, `estimate ${estimate} far above transmitted ${actual}`);
    });
  }
});
