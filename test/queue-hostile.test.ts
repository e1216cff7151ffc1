import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { enqueueMail } from '../src/functions/enqueue.js';
import { messageStatus } from '../src/functions/message-status.js';
import { requestDigest } from '../src/mail/request-digest.js';
import { claimCheckBlobName } from '../src/queue/claim-check-name.js';
import { deadLetterText } from '../src/queue/dead-letter.js';
import { maxInlineMessageBytes } from '../src/queue/enqueue.js';
import { RestError } from '@azure/core-rest-pipeline';
import { outboundMail } from '../src/functions/outbound-queue.js';
import { readQueueHostOptions } from '../local/host/host-json.js';
import { deadLetterUnprocessable, hostMaxDequeueCount } from '../src/pipeline/process-queue-message.js';
import { decodeQueueMessage, encodeQueueMessage } from '../src/queue/queue-message.js';
import { requeueDeadLetter, whyNotRequeueable } from '../src/queue/requeue.js';
import { getQueueRuntime } from '../src/runtime/queue-runtime.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { runObserved } from './observed.js';
import { drain, startQueueFixture, type QueueFixture } from './queue-fixture.js';

const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const b64 = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64');
const decode = (text: string) => Buffer.from(text, 'base64').toString('utf8');

describe('hostile messages through the queue', () => {
  let h: Harness;
  let q: QueueFixture;
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
  });
  after(async () => {
    await q.close();
    await h.close();
  });
  beforeEach(() => q.reset());

  const enqueue = (body: unknown) => h.http(enqueueMail, { route: 'enqueue', body });
  const put = async (text: string) => (await q.storage.intake.sendMessage(text)).messageId;
  /** A request too large for a queue message travels as exosend's own envelope and a claim-check blob, which any producer can write. */
  const putViaBlob = async (id: string, request: unknown) => {
    const json = JSON.stringify(request);
    const blob = claimCheckBlobName(id, requestDigest(request));
    await q.storage.requests.getBlockBlobClient(blob).upload(json, Buffer.byteLength(json));
    await put(encodeQueueMessage({ exosend: 1, id, history: [], blob }));
    return id;
  };

  // Regression: a dead letter over 64 KB was never written (the record stayed `sending`, the message
  // came back for ever); a deeply nested message overflowed the stack while its letter was written and
  // reached the poison queue raw after the host's five tries, with no reason and its record `sending`.
  it('when every kind of hostile message arrives at once, then each ends sent or dead-lettered with a reason, every record ends, and the trigger keeps consuming', async () => {
    const first = await enqueue(mailRequest({ idempotencyKey: 'reused-key', subject: 'first content' }));
    assert.equal(first.status, 202);
    const reusedSame = await enqueue(mailRequest({ idempotencyKey: 'reused-key', subject: 'first content' }));
    assert.equal(reusedSame.status, 202, 'the same request again is a repeat');
    const reusedOther = await enqueue(mailRequest({ idempotencyKey: 'reused-key', subject: 'other content' }));
    assert.equal(reusedOther.status, 409);
    assert.deepEqual(reusedOther.body.error.existing, { id: 'reused-key', status: 'queued' });

    const oversize = await enqueue(
      mailRequest({
        attachments: [{ filename: 'big.bin', contentBase64: b64(Math.floor((35 * 1024 * 1024 - 200_000) / 4) * 3) }],
      }),
    );
    assert.equal(
      oversize.status,
      413,
      '/api/enqueue refuses what Exchange would refuse, instead of a 202 and a dead letter later',
    );
    assert.equal((await enqueue(mailRequest({ idempotencyKey: '..' }))).status, 400);

    const hostile = {
      // a raw put whose request is invalid in every one of 500 recipients and 100 attachments
      manyDetails: await put(
        encodeQueueMessage(
          mailRequest({
            to: Array.from({ length: 500 }, (_, i) => `bad-${i}`),
            attachments: Array(40).fill({ filename: 'f'.repeat(300) }),
          }),
        ),
      ),
      deepBase64: await put(Buffer.from(`{"to":${deep(20_000)}}`).toString('base64')),
      deepPlain: await put(`{"to":${deep(5_000)},"subject":"s","text":"t"}`),
      manyValues: await put(Buffer.from(`{"to":[${'0,'.repeat(19_999)}0]}`).toString('base64')),
      undecodableHuge: await put('!'.repeat(60_000)),
      oversize: await putViaBlob(
        'oversize',
        mailRequest({
          attachments: [{ filename: 'big.bin', contentBase64: b64(Math.floor((35 * 1024 * 1024 - 200_000) / 4) * 3) }],
        }),
      ),
      dotsKey: await put(encodeQueueMessage(mailRequest({ idempotencyKey: '..' }))),
      reusedKey: await put(encodeQueueMessage(mailRequest({ idempotencyKey: 'reused-key', subject: 'third content' }))),
      // Regression: a blob name Blob storage refuses as too long made the blob SDK throw out of reach of any catch, killing the worker
      longBlobName: await put(
        encodeQueueMessage({ exosend: 1, id: 'long-blob-name', history: [], blob: `${'b'.repeat(1100)}.json` }),
      ),
    };
    await put(encodeQueueMessage(mailRequest({ idempotencyKey: 'valid-after-all', subject: 'still flowing' })));

    const listener = q.startListener();
    const records = await q.waitUntilFinished(
      [
        'reused-key',
        'valid-after-all',
        ...Object.entries(hostile)
          .filter(([k]) => k !== 'reusedKey')
          .map(([, id]) => id),
      ],
      90_000,
    );
    assert.ok(records.every((r) => r.status === 'sent' || r.status === 'failed'));
    const byId = new Map(records.map((r) => [r.id, r]));
    assert.equal(byId.get('valid-after-all')?.status, 'sent');
    assert.equal(
      byId.get('reused-key')?.status,
      'sent',
      "the key's first request is sent; the one reusing it does not touch its record",
    );
    assert.ok(h.sandbox.exchange.messages.some((m) => m.raw.includes('first content')));
    assert.ok(
      !h.sandbox.exchange.messages.some((m) => m.raw.includes('third content') || m.raw.includes('other content')),
    );

    await listener.stop();
    const letters = await drain(q.storage, 'poison');
    const letterOf = (id: string) => letters.find((l) => l.id === id);
    for (const letter of letters) {
      assert.ok(
        typeof letter === 'object',
        `a letter exosend wrote, not a raw message: ${String(letter).slice(0, 80)}`,
      );
      assert.ok(
        letter.code && (letter.reason || letter.diagnosis || letter.details),
        JSON.stringify(letter).slice(0, 300),
      );
    }
    assert.equal(letters.length, Object.keys(hostile).length);
    assert.equal(letterOf(hostile.manyDetails).details.length, 21);
    assert.match(letterOf(hostile.deepBase64).reason, /must not nest more than 16 levels/);
    assert.match(letterOf(hostile.deepPlain).reason, /must not nest more than 16 levels/);
    assert.match(letterOf(hostile.manyValues).reason, /must not hold more than 10,000 values/);
    assert.ok(letterOf(hostile.undecodableHuge).original.length < 20_000);
    assert.equal(letterOf(hostile.oversize).code, 'MESSAGE_TOO_LARGE');
    assert.equal(
      letterOf(hostile.dotsKey).code,
      'INVALID_REQUEST',
      'a dots-only key names no record: the message is known by its queue id',
    );
    const reused = letters.find((l) => l.code === 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(reused?.id, 'reused-key');
    assert.match(letterOf(hostile.longBlobName).reason, /claim-check blob exosend cannot have written/);
  });

  it('when host.json says how often the host tries a message, then the trigger dead-letters on that same last try', () => {
    assert.equal(readQueueHostOptions().maxDequeueCount, hostMaxDequeueCount);
  });

  it('when storage fails under a delivery, then the error goes back to the host until its last try, which dead-letters with the reason and keeps the request', async () => {
    await h.http(enqueueMail, { route: 'enqueue', body: mailRequest({ idempotencyKey: 'storage-hiccup' }) });
    const [queued] = await drain(q.storage, 'intake');
    const deps = await getQueueRuntime();
    let failures = 0;
    deps.storage.records.pipeline.addPolicy({
      name: 'fail-one-read',
      async sendRequest(request, next) {
        if (failures === 0 || request.method !== 'GET' || !request.url.includes('storage-hiccup')) return next(request);
        failures--;
        throw new RestError('injected: the table did not answer', { statusCode: 400, request });
      },
    });
    try {
      failures = 1;
      await assert.rejects(
        outboundMail(queued, h.context('outbound-mail', { id: 'q-1', dequeueCount: hostMaxDequeueCount - 1 })),
        /injected/,
      );
      assert.equal((await q.store.get('storage-hiccup'))?.status, 'queued', 'before the last try, nothing is decided');
      failures = 1;
      await outboundMail(queued, h.context('outbound-mail', { id: 'q-1', dequeueCount: hostMaxDequeueCount }));
    } finally {
      deps.storage.records.pipeline.removePolicy({ name: 'fail-one-read' });
    }
    assert.equal((await q.store.get('storage-hiccup'))?.status, 'failed');
    const [letter] = await drain(q.storage, 'poison');
    assert.match(letter.reason, /failed on every try; the last error: RestError: injected/);
    assert.ok(letter.request, 'never sent, so the letter keeps the request for a put-back');
  });

  it('when processing throws on the last try the host allows, then the message is dead-lettered with the reason and its record ends failed', async () => {
    await h.http(enqueueMail, { route: 'enqueue', body: mailRequest({ idempotencyKey: 'last-try' }) });
    const [queued] = await drain(q.storage, 'intake');
    const outcome = await deadLetterUnprocessable(
      queued,
      'queue-id',
      new Error('storage said 500 five times'),
      await getQueueRuntime(),
    );
    assert.equal(outcome.kind, 'dead-lettered');
    assert.equal((await q.store.get('last-try'))?.status, 'failed');
    const [letter] = await drain(q.storage, 'poison');
    assert.equal(letter.id, 'last-try');
    assert.match(letter.reason, /failed on every try; the last error: Error: storage said 500 five times/);
  });

  it('when the last try threw while the record said sending, then the letter says it may have been sent and holds nothing to put back', async () => {
    await h.http(enqueueMail, { route: 'enqueue', body: mailRequest({ idempotencyKey: 'maybe-sent' }) });
    const [queued] = await drain(q.storage, 'intake');
    await q.store.claim('maybe-sent', 60_000);
    await deadLetterUnprocessable(queued, 'queue-id', new Error('markSent failed'), await getQueueRuntime());
    const [letter] = await drain(q.storage, 'poison');
    assert.match(letter.reason, /may have been sent/);
    assert.equal(letter.request, undefined);
    assert.equal(letter.blob, undefined);
  });

  it('when a dead letter would exceed the 64 KB queue limit, then it is cut down to fit and says what was cut', async () => {
    // 100 attachments, each with an invalid name of 2,000 characters: the request moves to a blob, the details stay capped
    const id = await putViaBlob(
      'large-letter',
      mailRequest({
        attachments: Array.from({ length: 100 }, () => ({ filename: 'n'.repeat(2_000), contentBase64: '@' })),
      }),
    );
    const listener = q.startListener();
    const [record] = await q.waitUntilFinished([id]);
    assert.equal(record?.status, 'failed');
    await listener.stop();
    const [letter] = await drain(q.storage, 'poison');
    assert.ok(Buffer.byteLength(encodeQueueMessage(letter)) <= maxInlineMessageBytes);
    assert.ok(letter.details.length <= 21);
    assert.ok(letter.details.every((d: { message: string }) => d.message.length <= 303));
    assert.ok(letter.blob, 'the request itself moved to a blob, kept for a re-queue');
  });

  it('when a letter is too large or cannot be written as JSON at all, then it is cut step by step, each cut named, down to what always fits', async () => {
    const history = Array.from({ length: 5_000 }, (_, i) => ({ at: new Date(0).toISOString(), code: `CODE_${i}` }));
    const huge = JSON.parse(
      await deadLetterText(q.storage, {
        id: 'huge',
        failedAt: '',
        attempts: 9,
        code: 'X',
        reason: 'r'.repeat(5_000),
        history,
      }).then(decode),
    );
    assert.deepEqual(huge.truncated, ['original', 'details', 'history']);
    assert.equal(huge.history.length, 10);
    assert.ok(huge.reason.length < 1_100);

    let nested: unknown = [];
    for (let i = 0; i < 100_000; i++) nested = [nested];
    const unwritable = JSON.parse(
      decode(
        await deadLetterText(q.storage, {
          id: 'deep',
          failedAt: '',
          attempts: 1,
          code: 'X',
          history: [],
          request: nested,
        }),
      ),
    );
    assert.deepEqual(unwritable.truncated, ['request (could not be written as JSON)']);
    assert.equal(unwritable.request, undefined);
  });

  it('when a claim-checked request is refused on the queue (its sender no longer allowed), then it is dead-lettered for that reason, not as a reused key, and its record ends failed', async () => {
    // Regression: the digest of the blob's text differed from the digest taken of the parsed request at enqueue
    h.restartApp({ ...q.settings, EXOSEND_ALLOWED_SENDERS: 'desk@contoso.example' });
    const big = await enqueue(
      mailRequest({
        idempotencyKey: 'sender-removed',
        from: 'desk@contoso.example',
        attachments: [{ filename: 'a.bin', contentBase64: b64(80_000) }],
      }),
    );
    assert.equal(big.status, 202);
    h.restartApp(q.settings);
    const listener = q.startListener();
    const [record] = await q.waitUntilFinished(['sender-removed']);
    await listener.stop();
    assert.equal(record?.status, 'failed');
    const [letter] = await drain(q.storage, 'poison');
    assert.equal(letter.code, 'SENDER_NOT_ALLOWED');
  });

  it('when an envelope names the claim-check blob of an id its own id is a prefix of, then it is dead-lettered, and that request is still sent with its content', async () => {
    // Regression: the blob check tested only the name's start, so an envelope of id `g1T` passed for
    // `g1T.victim`'s blob: it sent the victim's content as its own and deleted the blob, and the
    // victim ended failed ("claim-check blob ... is missing") with its content gone.
    const victim = await enqueue(
      mailRequest({
        idempotencyKey: 'g1T.victim',
        subject: 'victim content',
        attachments: [{ filename: 'a.bin', contentBase64: b64(80_000) }],
      }),
    );
    assert.equal(victim.status, 202);
    const [victimMessage] = await drain(q.storage, 'intake');
    assert.match(victimMessage.blob, /^g1T\.victim\.[\w-]{43}\.json$/);
    const attacker = { exosend: 1, id: 'g1T', history: [], blob: victimMessage.blob };

    await outboundMail(encodeQueueMessage(attacker), h.context('outbound-mail', { id: 'q-attacker', dequeueCount: 1 }));
    assert.ok(
      !h.sandbox.exchange.messages.some((m) => m.raw.includes('victim content')),
      "nothing was sent for the attacker's envelope",
    );
    assert.equal(await q.store.get('g1T'), undefined);
    const [letter] = await drain(q.storage, 'poison');
    assert.equal(letter?.id, 'q-attacker', 'known by its queue id: its own id was never trusted');
    assert.match(letter.reason, /claim-check blob exosend cannot have written/);
    assert.match(
      whyNotRequeueable({ id: 'g1T', code: 'X', blob: victimMessage.blob }) ?? '',
      /not one exosend writes for its id/,
      'nor can a forged dead letter reach it',
    );

    await outboundMail(victimMessage, h.context('outbound-mail', { id: 'q-victim', dequeueCount: 1 }));
    assert.equal((await q.store.get('g1T.victim'))?.status, 'sent');
    assert.equal(h.sandbox.exchange.messages.filter((m) => m.raw.includes('victim content')).length, 1);
  });

  it('when a claim-check blob name is read back, then only the exact name exosend writes for the id passes', () => {
    const digest = 'd'.repeat(43);
    const envelope = (id: string, blob: string) =>
      decodeQueueMessage(encodeQueueMessage({ exosend: 1, id, history: [], blob })).kind;
    assert.equal(envelope('g1T', `g1T.${digest}.json`), 'envelope');
    assert.equal(envelope('a:b', `a%3Ab.${digest}.json`), 'envelope', 'a colon is written encoded');
    assert.equal(envelope('g1T.', `g1T..${digest}.json`), 'envelope');
    for (const [id, blob] of [
      ['g1T', `g1T.victim.${digest}.json`],
      ['g1T', `g1T..${digest}.json`],
      ['g1T.', `g1T.${digest}.json`],
      ['g1T', `g1T.${digest.slice(1)}.json`],
      ['g1T', `g1T.${digest}x.json`],
      ['g1T', `g1T.${digest}.json.json`],
      ['a:b', `a:b.${digest}.json`],
      ['g1T', `../g1T.${digest}.json`],
    ] as const)
      assert.equal(envelope(id, blob), 'undecodable', `${id} ${blob}`);
  });

  it("when a letter reused another request's key, then it cannot be put back, and no letter of other content reopens a record", async () => {
    assert.match(
      whyNotRequeueable({ id: 'k', code: 'IDEMPOTENCY_KEY_REUSED', request: mailRequest() }) ?? '',
      /reused the idempotency key/,
    );
    await enqueue(mailRequest({ idempotencyKey: 'reopen-guard', subject: 'original' }));
    await q.store.markFailed('reopen-guard', { reason: 'X: test' });
    const other = await requeueDeadLetter(q.storage, q.store, {
      id: 'reopen-guard',
      request: mailRequest({ subject: 'other content' }),
    });
    assert.equal(other.kind, 'not-failed');
    assert.equal((await q.store.get('reopen-guard'))?.status, 'failed');
    await q.storage.intake.clearMessages();
  });

  it('when a status URL names a dots-only id, then it is answered 404, never another record', async () => {
    for (const id of ['.', '..'])
      assert.equal(
        (await h.http(messageStatus, { method: 'GET', route: `messages/${id}`, params: { id } })).status,
        404,
      );
  });

  describe('exosend enqueue, misused', () => {
    const cli = (args: string[], env: Record<string, string> = {}) =>
      runObserved('exosend-cli', process.execPath, ['dist/cli/exosend.js', 'enqueue', ...args], {
        env: { ...process.env, ...env },
      });

    it('when the file is missing, is a directory, the storage setting is malformed or storage does not answer, then it prints one line that says what to do, and no stack', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'exosend-cli-'));
      mkdirSync(join(dir, 'folder'));
      writeFileSync(join(dir, 'request.json'), JSON.stringify(mailRequest()));
      const account = 'AccountName=devstoreaccount1;AccountKey=c2VjcmV0LWFjY291bnQta2V5LW5vdC10by1iZS1lY2hvZWQ=';
      const down = `DefaultEndpointsProtocol=http;${account};QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1`;
      await enqueue(mailRequest({ idempotencyKey: 'cli-reused', subject: 'first' }));
      writeFileSync(
        join(dir, 'reused.json'),
        JSON.stringify(mailRequest({ idempotencyKey: 'cli-reused', subject: 'second' })),
      );
      const [missing, folder, malformed, unreachable, reused] = await Promise.all([
        cli([join(dir, 'nope.json')]),
        cli([join(dir, 'folder')]),
        cli([join(dir, 'request.json')], { AzureWebJobsStorage: `Endpoint=sb://x;${account}` }),
        cli([join(dir, 'request.json')], { AzureWebJobsStorage: down }),
        cli([join(dir, 'reused.json')]),
      ]);
      for (const [result, code, says] of [
        [missing, 2, /no such file/],
        [folder, 2, /a directory, not a file/],
        [malformed, 2, /AzureWebJobsStorage is not a storage connection string/],
        [unreachable, 1, /did not answer \(ECONNREFUSED\)/],
        [reused, 1, /IDEMPOTENCY_KEY_REUSED/],
      ] as const) {
        assert.equal(result.code, code, result.stderr);
        assert.match(result.stderr, says);
        if (result !== reused) assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
        assert.doesNotMatch(result.stderr, /\n\s+at |c2VjcmV0/, 'no stack, no account key');
        h.observe(result.stderr);
      }
    });
  });
});
