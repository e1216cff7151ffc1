import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { SendMailOptions } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { composeMessage } from '../src/mail/compose.js';
import { mailRequestSchema } from '../src/mail/mail-request.js';
import { buildMime } from '../src/mail/mime-bytes.js';

/** What composeMessage makes of a request as /api/send takes it. */
function composed(request: Record<string, unknown>): SendMailOptions {
  const parsed = mailRequestSchema.parse({ to: ['ada@fabrikam.example'], subject: 'Report', ...request });
  return composeMessage(parsed, { id: 'request-1', mailbox: 'reports@contoso.example' });
}

/** Fixed, so that two trees compiled from the same options are the same tree. */
const fixed = {
  date: new Date('2026-12-06T12:00:00Z'),
  baseBoundary: 'exosend-test',
  messageId: '<test@contoso.example>',
};

/**
 * Builds the message both ways: buildMime on one compiled tree, nodemailer's own build() on another
 * compiled from the same options (so that anything buildMime changed in its tree cannot reach the
 * bytes it is compared with). Tells whether buildMime left the work to build().
 */
async function bothWays(options: SendMailOptions): Promise<{ inMemory: Buffer; streamed: Buffer; fellBack: boolean }> {
  const { node, fellBack } = watched({ ...fixed, ...options });
  const inMemory = await buildMime(node);
  const streamed = await new MailComposer({ ...fixed, ...options }).compile().build();
  return { inMemory, streamed, fellBack: fellBack() };
}

/** The compiled tree, with its build() replaced by one that notes it was called. */
function watched(options: SendMailOptions) {
  const node = new MailComposer(options).compile();
  // nodemailer's own build(), which returns its promise when given no callback
  const build = node.build.bind(node, undefined as never) as () => Promise<Buffer>;
  let called = false;
  Object.assign(node, {
    build: () => {
      called = true;
      return build();
    },
  });
  return { node, fellBack: () => called };
}

const base64Of = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');

/** A text of `length` pieces drawn from what trips an encoder: line breaks of every kind, whitespace before them, dots, '=', non-ASCII. */
function awkwardText(seed: number, length: number): string {
  const pieces = [
    'word',
    'word ',
    ' ',
    '\t',
    '\r\n',
    '\n',
    '\r',
    '.',
    '..\r\n',
    '=',
    'é',
    '€',
    '😀',
    ' \r\n',
    'x'.repeat(70),
    'x'.repeat(90),
  ];
  let state = seed;
  let text = '';
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31; // a fixed sequence: a failure names its seed
    text += pieces[state % pieces.length];
  }
  return text;
}

describe('the MIME a message is sent as', () => {
  const cases: Record<string, Record<string, unknown>> = {
    'short ASCII text (7bit)': { text: 'Your order has shipped.' },
    'text with a line over 76 characters (quoted-printable)': { text: `${'long '.repeat(40)}\r\nshort` },
    'mostly non-ASCII text (base64)': { text: 'Grüße aus Köln, 東京からこんにちは。'.repeat(5) },
    'whitespace before line breaks and at the end (quoted-printable)': { text: 'tab\t\r\nspace \r\nGrüße ' },
    'a quoted-printable line of 52-76 characters ending in spaces': {
      text: 'Grüße,\r\nPlease find the invoice for March attached to this mess  ',
    },
    'quoted-printable text of whitespace only after a line': { text: `Grüße\r\n${' '.repeat(90)}` },
    'an empty attachment and no text (the attachment is the root)': {
      text: '',
      attachments: [{ filename: 'empty.bin', contentType: 'application/octet-stream', contentBase64: '' }],
    },
    'text ending in a bare CR': { text: 'ends\r' },
    'text ending in a line break': { text: 'ends\r\n' },
    'lines starting with dots': { text: '.\r\n..\r\n.hidden' },
    'HTML only': { html: '<p>Bonjour, <b>déjà</b> vu</p>' },
    'text and HTML (multipart/alternative)': { text: 'Plain', html: '<p>Rich</p>' },
    'attachments (multipart/mixed)': {
      text: 'See attached.',
      attachments: [
        { filename: 'report.pdf', contentType: 'application/pdf', contentBase64: base64Of(Buffer.alloc(3000, 0x9c)) },
        { filename: 'données.csv', contentType: 'text/csv', contentBase64: base64Of('a;b\r\né;€\r\n') },
        { filename: 'empty.bin', contentType: 'application/octet-stream', contentBase64: '' },
      ],
    },
    'text, HTML and an attachment': {
      text: 'Plain',
      html: '<p>Rich</p>',
      attachments: [{ filename: 'a.txt', contentType: 'text/plain', contentBase64: base64Of('one\ntwo\rthree') }],
    },
    'non-ASCII subject and headers, Cc, Bcc and Reply-To': {
      subject: 'Überweisung für März — ✓ erledigt',
      cc: ['bob@fabrikam.example'],
      bcc: ['audit@contoso.example'],
      replyTo: 'office@contoso.example',
      headers: { 'X-Order': 'Bestellung Nr. 4711 – Ähnliches' },
      text: 'Hallo',
    },
  };
  for (const [name, request] of Object.entries(cases))
    it(`when ${name}, then it is built in memory and has the bytes nodemailer streams`, async () => {
      const { inMemory, streamed, fellBack } = await bothWays(composed(request));
      assert.equal(fellBack, false);
      assert.equal(inMemory.toString('latin1'), streamed.toString('latin1'));
    });

  it('when texts and attachments hold every awkward byte sequence, then the bytes are the same in 1,000 messages', async () => {
    for (let seed = 1; seed <= 1000; seed++) {
      // every other one ends in whitespace, which the QP encoder holds back until the end
      const text =
        awkwardText(seed, (seed * 37) % 160) + (seed % 2 ? ' '.repeat(seed % 5) + '\t'.repeat(seed % 3) : '');
      const request = {
        text,
        ...(seed % 3 === 0 && { html: `<p>${text}</p>` }),
        ...(seed % 4 === 0 && {
          attachments: [
            { filename: 'notes.txt', contentType: 'text/plain', contentBase64: base64Of(awkwardText(seed + 1, 200)) },
          ],
        }),
      };
      const { inMemory, streamed, fellBack } = await bothWays(composed(request));
      assert.equal(fellBack, false, `seed ${seed}`);
      assert.equal(inMemory.toString('latin1'), streamed.toString('latin1'), `seed ${seed}`);
    }
  });

  it('when addresses have non-ASCII display names, then the bytes are the same', async () => {
    const { inMemory, streamed, fellBack } = await bothWays({
      from: '"Büro Köln" <reports@contoso.example>',
      to: ['"Zoë Ärger" <zoe@fabrikam.example>', 'ada@fabrikam.example'],
      subject: 'Grüße',
      text: 'Hallo',
    });
    assert.equal(fellBack, false);
    assert.equal(inMemory.toString('latin1'), streamed.toString('latin1'));
  });

  it('when an attachment is larger than 64 KiB, then nodemailer streams the message, in bounded copies', async () => {
    const request = {
      text: 'Large',
      attachments: [
        {
          filename: 'big.bin',
          contentType: 'application/octet-stream',
          contentBase64: base64Of(Buffer.alloc(64 * 1024 + 1, 1)),
        },
      ],
    };
    const { inMemory, streamed, fellBack } = await bothWays(composed(request));
    assert.equal(fellBack, true);
    assert.equal(inMemory.toString('latin1'), streamed.toString('latin1'));
  });

  it('when content outside text is quoted-printable, then nodemailer encodes it, as binary', async () => {
    // its stream keeps a lone LF of such content as =0A; the plain encoder would keep it literal
    const { inMemory, streamed, fellBack } = await bothWays({
      from: 'reports@contoso.example',
      to: 'ada@fabrikam.example',
      attachments: [
        {
          filename: 'a.bin',
          contentType: 'application/octet-stream',
          content: 'one\ntwo',
          contentTransferEncoding: 'quoted-printable',
        },
      ],
    });
    assert.equal(fellBack, true);
    assert.match(inMemory.toString(), /one=0Atwo/);
    assert.equal(inMemory.toString('latin1'), streamed.toString('latin1'));
  });

  it('when a text is over 64 KiB in UTF-8 though under 64 Ki characters, then nodemailer streams the message', async () => {
    const { inMemory, streamed, fellBack } = await bothWays(composed({ text: 'é'.repeat(40_000) }));
    assert.equal(fellBack, true);
    assert.equal(inMemory.toString('latin1'), streamed.toString('latin1'));
  });

  for (const [name, options] of Object.entries<SendMailOptions>({
    'the message is given raw': { raw: 'Subject: raw\r\n\r\nbody' },
    'an attachment is given raw': { text: 'see', attachments: [{ raw: 'Content-Type: text/plain\r\n\r\nraw part' }] },
    'a newline style is asked for': { text: 'one\ntwo', newline: 'unix' },
  }))
    it(`when ${name}, then nodemailer builds the message`, async () => {
      const { inMemory, streamed, fellBack } = await bothWays({
        from: 'reports@contoso.example',
        to: 'ada@fabrikam.example',
        ...options,
      });
      assert.equal(fellBack, true);
      assert.equal(inMemory.toString('latin1'), streamed.toString('latin1'));
    });

  it('when the tree has a transform or a process function (DKIM signs through one), then nodemailer builds it', async () => {
    for (const add of [
      (node: ReturnType<MailComposer['compile']>) => node.transform(new PassThrough()),
      (node: ReturnType<MailComposer['compile']>) => node.processFunc((input) => input),
    ]) {
      const { node, fellBack } = watched({
        from: 'reports@contoso.example',
        to: 'ada@fabrikam.example',
        text: 'signed',
      });
      add(node);
      assert.match((await buildMime(node)).toString(), /signed/);
      assert.equal(fellBack(), true);
    }
  });

  it('when a content is a stream, then nodemailer streams the message', async () => {
    const { node, fellBack } = watched({
      from: 'reports@contoso.example',
      to: 'ada@fabrikam.example',
      text: Readable.from([Buffer.from('streamed text')]),
    });
    // a stream is read once: only one build can have it
    assert.match((await buildMime(node)).toString(), /streamed text/);
    assert.equal(fellBack(), true);
  });
});
