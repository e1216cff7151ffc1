// `npm run bench:memory`: the peak memory of requests at the size limit (35 MB as transmitted),
// n at once, through the path exosend runs for each: the body decoded and validated
// (decodeUtf8Body, parseMailRequest), the message composed (composeMessage) and built once as the
// MIME every transport sends (composeMime), then read by a sink as SMTP's DATA would read it.
// Each n runs in a fresh Node process, so that one n's heap never counts for the next; the peak is
// that process's maximum resident set size. docs/instance-memory.md reads these figures.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { composeMessage } from '../src/mail/compose.js';
import { composeMime } from '../src/mail/mime.js';
import { decodeUtf8Body, parseMailRequest } from '../src/mail/parse-request.js';

const mailbox = 'exosend@contoso.example';
/** 25 MB of attachment is 34.2 MB of MIME once base64 and line breaks are added: just under 35 MB. */
const attachmentBytes = 25 * 1024 * 1024;

/** One request at the limit, as the JSON bytes a caller posts. */
function largeBody(index: number): Uint8Array {
  const request = {
    to: ['ada@fabrikam.example'],
    subject: `Large ${index}`,
    text: 'The report is attached.',
    attachments: [
      {
        filename: 'report.bin',
        contentType: 'application/octet-stream',
        contentBase64: randomBytes(attachmentBytes).toString('base64'),
      },
    ],
  };
  return Buffer.from(JSON.stringify(request));
}

async function throughExosend(body: Uint8Array, index: number): Promise<number> {
  const request = parseMailRequest(JSON.parse(decodeUtf8Body(body)), { allowedSenders: [mailbox] });
  const mail = await composeMime(composeMessage(request, { id: `large-${index}`, mailbox }));
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done();
    },
  });
  await pipeline(Readable.from([mail.raw]), sink);
  return bytes;
}

/** In the child: n requests at once; prints the bytes of MIME and the peak RSS. */
async function child(n: number): Promise<void> {
  const bodies = Array.from({ length: n }, (_, i) => largeBody(i));
  const sizes = await Promise.all(bodies.map((body, i) => throughExosend(body, i)));
  const peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  process.send!({ n, mimeMB: Math.round((sizes[0]! / 1024 / 1024) * 10) / 10, peakRssMB });
}

function runChild(n: number): Promise<{ n: number; mimeMB: number; peakRssMB: number }> {
  return new Promise((resolve, reject) => {
    const worker = fork(new URL(import.meta.url), ['--child', String(n)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    worker.once('message', (result) => resolve(result as { n: number; mimeMB: number; peakRssMB: number }));
    worker.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`the child for ${n} exited ${code}`))));
  });
}

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]));
} else {
  console.log(
    `requests at the size limit, n at once, each in a fresh process (Node ${process.version}, ${new Date().toISOString().slice(0, 10)})`,
  );
  console.log('| n | MIME per request | peak RSS |\n| --- | --- | --- |');
  for (const n of [1, 2, 4, 8]) {
    const { mimeMB, peakRssMB } = await runChild(n);
    console.log(`| ${n} | ${mimeMB} MB | ${peakRssMB} MB |`);
  }
}
