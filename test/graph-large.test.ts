import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { checkGraphClaims } from '../src/auth/graph-claims.js';
import { TokenProvider } from '../src/auth/token-provider.js';
import { LocalBudget } from '../src/budget/local-budget.js';
import { loadConfig } from '../src/config/load-config.js';
import { DeliveryFailed } from '../src/diagnosis/failures.js';
import { composeMessage } from '../src/mail/compose.js';
import { mailRequestSchema } from '../src/mail/mail-request.js';
import { composeMime } from '../src/mail/mime.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { GraphClient } from '../src/transport/graph-client.js';
import { GraphTransport } from '../src/transport/graph-transport.js';
import { mailRequest, startHarness, type Harness } from './harness.js';

// Messages above Graph's 4 MB sendMail limit go through a draft, upload sessions and the draft's send
// (src/transport/graph-upload-send.ts), against the Graph stand-in's draft routes (local/sandbox/graph-drafts.ts).

const fourMiB = 4 * 1024 * 1024;
const unlimited = {
  ratePerWindow: 100_000,
  windowInMs: 60_000,
  maxConnections: 4,
  recipientsPerDay: 1_000_000,
  dayInMs: 86_400_000,
};
const file = (filename: string, bytes: Buffer, contentType = 'application/octet-stream') => ({
  filename,
  contentType,
  contentBase64: bytes.toString('base64'),
});

describe('Microsoft Graph above its 4 MB sendMail limit', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());
  beforeEach(() => {
    h.reset({ EXOSEND_TRANSPORT: 'graph', EXOSEND_RATE_PER_MINUTE: '100000' });
    h.sandbox.exchange.messages.length = 0;
  });

  it('when a 10 MB message goes through Graph with Mail.ReadWrite, then it arrives whole: the same text, headers, recipients and attachments in their order, with its Message-ID (kept by the stand-in)', async () => {
    const attachments = [
      file('small-first.txt', Buffer.from('a small note that can stay in the draft\n'), 'text/plain'),
      file('scan.pdf', randomBytes(6_300_000), 'application/pdf'),
      file('medium.bin', randomBytes(1_200_000)),
      file('photo.jpg', randomBytes(3_100_000), 'image/jpeg'),
    ];
    const reply = await h.send(
      mailRequest({
        cc: ['grace@fabrikam.example'],
        bcc: ['audit@contoso.example'],
        html: '<p>large</p>',
        headers: { 'X-Ticket': 'big-1' },
        attachments,
      }),
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body).slice(0, 400));
    assert.equal(reply.body.transport, 'graph');
    assert.equal(reply.body.response, '202 Accepted');
    assert.equal(h.sandbox.exchange.messages.length, 1, 'sent once');
    const [received] = h.sandbox.exchange.messages;
    assert.equal(received!.transport, 'graph');
    assert.deepEqual([...received!.envelope.rcptTo].sort(), [
      'ada@fabrikam.example',
      'audit@contoso.example',
      'grace@fabrikam.example',
    ]);
    assert.equal(
      received!.messageId,
      reply.body.messageId,
      "the stand-in keeps the MIME's Message-ID (real Graph does not promise to)",
    );
    const mime = await simpleParser(received!.raw);
    assert.equal(mime.headers.get('bcc'), undefined);
    assert.equal(mime.headers.get('x-ticket'), 'big-1');
    assert.equal(mime.subject, mailRequest()['subject']);
    assert.equal(mime.html, '<p>large</p>');
    assert.deepEqual(
      mime.attachments.map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        content: a.content.toString('base64'),
      })),
      attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.contentBase64 })),
      'every attachment, byte for byte, in the order sent',
    );
    const { drafts } = h.sandbox.graph;
    assert.deepEqual(drafts.drafts(), [], 'no draft is left behind');
    assert.ok(drafts.uploadSizes.length >= 3, `uploaded in chunks: ${drafts.uploadSizes.join(', ')}`);
    assert.ok(
      drafts.uploadSizes.every((n) => n <= fourMiB),
      `each PUT at most 4 MB: ${drafts.uploadSizes.join(', ')}`,
    );
    assert.deepEqual(drafts.requestSizes.filter((r) => r.route === 'send').length, 1);
    assert.deepEqual(h.sandbox.graph.counters.errors, []);
  });

  it('when many small attachments make the message too large for one request, then the draft request itself stays within 4 MB and the rest follow as plain attachments', async () => {
    const attachments = Array.from({ length: 12 }, (_, i) => file(`part-${i}.bin`, randomBytes(500_000)));
    const reply = await h.send(mailRequest({ attachments }));
    assert.equal(reply.status, 200, JSON.stringify(reply.body).slice(0, 400));
    const sizes = h.sandbox.graph.drafts.requestSizes;
    const draft = sizes.find((r) => r.route === 'draft');
    assert.ok(draft && draft.bytes <= fourMiB, `the draft request: ${draft?.bytes} bytes`);
    assert.ok(draft.bytes > 2 * 1024 * 1024, "the first attachments stay in the draft's MIME");
    assert.ok(
      sizes.some((r) => r.route === 'attachment'),
      'the others are posted one by one',
    );
    assert.ok(sizes.every((r) => r.bytes <= fourMiB));
    const mime = await simpleParser(h.sandbox.exchange.messages[0]!.raw);
    assert.deepEqual(
      mime.attachments.map((a) => a.filename),
      attachments.map((a) => a.filename),
    );
    assert.deepEqual(h.sandbox.graph.counters.errors, []);
  });

  it("when the app holds no Mail.ReadWrite (EXOSEND_ROLES_MODE=rbac, its assignment lacks it), then the draft's 403 becomes 413 naming Mail.ReadWrite, nothing is sent and no draft is left", async () => {
    const { app } = h.sandbox;
    h.sandbox.identity.updateApp(app.clientId, { graphRoles: [] });
    h.sandbox.exchange.registerServicePrincipal({
      tenantId: app.tenantId,
      appId: app.clientId,
      objectId: app.servicePrincipalId,
      rbac: true,
    });
    h.sandbox.graph.rbacReadWrite(app.clientId, false);
    h.restartApp({ EXOSEND_TRANSPORT: 'graph', EXOSEND_ROLES_MODE: 'rbac', EXOSEND_RATE_PER_MINUTE: '100000' });
    const reply = await h.send(mailRequest({ attachments: [file('big.bin', randomBytes(5_000_000))] }));
    assert.equal(reply.status, 413, JSON.stringify(reply.body).slice(0, 400));
    assert.equal(reply.body.error.code, 'MESSAGE_TOO_LARGE');
    assert.match(reply.body.error.message, /Mail\.ReadWrite/);
    assert.match(reply.body.error.message, /Application Mail\.ReadWrite/);
    assert.equal(h.sandbox.exchange.messages.length, 0);
    assert.deepEqual(
      h.sandbox.graph.counters.errors,
      [{ status: 403, code: 'ErrorAccessDenied' }],
      'asked once, not retried',
    );
    assert.deepEqual(h.sandbox.graph.drafts.drafts(), []);
  });

  it('when an upload session is refused with 403 after the draft was made, then the draft is deleted, nothing is sent and the answer is 413 naming Mail.ReadWrite', async () => {
    h.sandbox.graph.failNext(
      { status: 403, code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' },
      1,
      'uploadSession',
    );
    const reply = await h.send(mailRequest({ attachments: [file('big.bin', randomBytes(5_000_000))] }));
    assert.equal(reply.status, 413, JSON.stringify(reply.body).slice(0, 400));
    assert.match(reply.body.error.message, /Mail\.ReadWrite/);
    assert.equal(h.sandbox.exchange.messages.length, 0, 'nothing sent');
    assert.ok(
      h.sandbox.graph.drafts.requestSizes.some((r) => r.route === 'delete'),
      'the draft was deleted',
    );
    assert.deepEqual(h.sandbox.graph.drafts.drafts(), [], 'no draft left');
    assert.ok(!h.sandbox.graph.drafts.requestSizes.some((r) => r.route === 'send'));
  });

  it("when the draft's send is carried out but its answer never comes, then it is not sent again (it may have been accepted) and counts as one message", async () => {
    h.restartApp();
    const config = loadConfig();
    const { credential } = getRuntime();
    const graphTokens = new TokenProvider(credential, {
      expect: { ...config, scope: 'https://graph.microsoft.com/.default' },
      check: checkGraphClaims,
    });
    const graph = new GraphTransport(
      {
        ...config,
        scope: 'https://graph.microsoft.com/.default',
        budget: new LocalBudget({ mailbox: config.mailbox, limits: unlimited }),
        concurrency: new LocalBudget({ mailbox: 'graph', limits: unlimited }),
      },
      new GraphClient({ endpoint: config.graphEndpoint, tokens: graphTokens, timeoutInMs: 1_500 }),
    );
    h.sandbox.graph.acceptWithoutAnswer(1, 'send');
    const { withRetries, inCallRetryPolicy } = await import('../src/pipeline/retry.js');
    const request = mailRequestSchema.parse(mailRequest({ attachments: [file('big.bin', randomBytes(4_500_000))] }));
    const mail = await composeMime(composeMessage(request, { id: 'large-no-answer', mailbox: config.mailbox }));
    try {
      const error = await withRetries(() => graph.send(mail), inCallRetryPolicy).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof DeliveryFailed, String(error));
      assert.equal(error.diagnosis.code, 'GRAPH_UNAVAILABLE');
      assert.match(error.diagnosis.smtp ?? '', /may have been accepted/);
      assert.deepEqual(error.attempts, ['GRAPH_UNAVAILABLE'], 'tried once');
      assert.equal(h.sandbox.exchange.messages.length, 1, 'delivered exactly once');
      assert.equal(h.sandbox.graph.drafts.requestSizes.filter((r) => r.route === 'send').length, 1, 'one send request');
      assert.equal(h.sandbox.graph.drafts.requestSizes.filter((r) => r.route === 'draft').length, 1, 'one draft');
      const usage = await graph.budget.usage();
      assert.equal(usage.minute.used, 1, 'one message of the minute, whatever number of requests it took');
    } finally {
      graph.close();
    }
  });
});
