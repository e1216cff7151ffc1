import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { simpleParser } from 'mailparser';
import { checkGraphClaims, graphScopeFor } from '../src/auth/graph-claims.js';
import { TokenProvider } from '../src/auth/token-provider.js';
import { LocalBudget } from '../src/budget/local-budget.js';
import { loadConfig } from '../src/config/load-config.js';
import { composeMessage } from '../src/mail/compose.js';
import { mailRequestSchema } from '../src/mail/mail-request.js';
import { composeMime } from '../src/mail/mime.js';
import { DeliveryFailed } from '../src/diagnosis/failures.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { GraphClient } from '../src/transport/graph-client.js';
import { GraphTransport } from '../src/transport/graph-transport.js';
import { MailboxTransport } from '../src/transport/mailbox-transport.js';
import { mailRequest, startHarness, type Harness } from './harness.js';

const unlimited = {
  ratePerWindow: 100_000,
  windowInMs: 60_000,
  maxConnections: 4,
  recipientsPerDay: 1_000_000,
  dayInMs: 86_400_000,
};

describe('Microsoft Graph as the transport', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());
  beforeEach(() => {
    h.resetUnpaced({ EXOSEND_TRANSPORT: 'graph' });
    h.sandbox.exchange.messages.length = 0;
  });

  it('when EXOSEND_TRANSPORT=graph, then the message goes through sendMail with a Graph token holding Mail.Send and lands in the outbox marked graph, Bcc hidden', async () => {
    const reply = await h.send(mailRequest({ cc: ['grace@fabrikam.example'], bcc: ['audit@contoso.example'] }));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.transport, 'graph');
    assert.equal(reply.body.response, '202 Accepted');
    assert.equal(h.sandbox.exchange.counters.connections, 0, 'no SMTP at all');
    const [received] = h.sandbox.exchange.messages;
    assert.ok(received);
    assert.equal(received.transport, 'graph');
    assert.equal(received.mailbox, h.sandbox.app.mailbox, 'the mailbox in the URL sends (its own Sent Items)');
    assert.equal(received.messageId, reply.body.messageId);
    assert.deepEqual([...received.envelope.rcptTo].sort(), [
      'ada@fabrikam.example',
      'audit@contoso.example',
      'grace@fabrikam.example',
    ]);
    assert.equal(received.claims.aud, 'https://graph.microsoft.com');
    // the sandbox's app also holds Mail.ReadWrite (Graph's draft path) and Mail.Read (the delivery reports reader)
    assert.deepEqual([...(received.claims.roles ?? [])].sort(), ['Mail.Read', 'Mail.ReadWrite', 'Mail.Send']);
    const mime = await simpleParser(received.raw);
    assert.equal(mime.headers.get('bcc'), undefined, 'the copy recipients get names no Bcc');
    assert.doesNotMatch(received.raw.toString('latin1'), /audit@contoso\.example/);
  });

  it('when two sends go out, then the Graph token is asked for once and cached like the Exchange token', async () => {
    await h.send(mailRequest());
    await h.send(mailRequest());
    assert.equal(h.sandbox.identity.counters.tokensByAudience['https://graph.microsoft.com'], 1);
    assert.equal(
      h.sandbox.identity.counters.tokensByAudience['https://outlook.office365.com'] ?? 0,
      0,
      'no Exchange token on Graph',
    );
  });

  it('when the same composed message goes through SMTP and through Graph, then both deliver byte-identical MIME with the same Message-ID', async () => {
    h.restartApp();
    const config = loadConfig();
    const request = mailRequestSchema.parse(
      mailRequest({
        cc: ['grace@fabrikam.example'],
        bcc: ['audit@contoso.example', 'legal@contoso.example'],
        html: '<p>HTML body</p>',
        headers: { 'X-Ticket': '123' },
        attachments: [
          {
            filename: 'q3.pdf',
            contentType: 'application/pdf',
            contentBase64: Buffer.from('%PDF-1.4 figures\n').toString('base64'),
          },
        ],
      }),
    );
    const mail = await composeMime(composeMessage(request, { id: 'same-bytes', mailbox: config.mailbox }));
    const { credential, tokens } = getRuntime();
    const smtp = new MailboxTransport(
      { ...config, budget: new LocalBudget({ mailbox: config.mailbox, limits: unlimited }) },
      tokens,
    );
    const graphTokens = new TokenProvider(credential, {
      expect: { ...config, scope: graphScopeFor(config.graphEndpoint) },
      check: checkGraphClaims,
    });
    const graph = new GraphTransport(
      {
        ...config,
        scope: 'https://graph.microsoft.com/.default',
        budget: new LocalBudget({ mailbox: config.mailbox, limits: unlimited }),
        concurrency: new LocalBudget({ mailbox: 'graph', limits: unlimited }),
      },
      new GraphClient({ endpoint: config.graphEndpoint, tokens: graphTokens }),
    );
    try {
      const viaSmtp = await smtp.send(mail);
      const viaGraph = await graph.send(mail);
      const [bySmtp, byGraph] = h.sandbox.exchange.messages;
      assert.equal(bySmtp?.transport, 'smtp');
      assert.equal(byGraph?.transport, 'graph');
      assert.ok(bySmtp.raw.equals(byGraph.raw), 'the bytes recipients get are the same either way');
      assert.ok(bySmtp.raw.equals(mail.raw), 'and they are the bytes composed once');
      assert.equal(viaSmtp.messageId, viaGraph.messageId);
      assert.equal(bySmtp.messageId, byGraph.messageId);
      assert.deepEqual(
        [...bySmtp.envelope.rcptTo].sort(),
        [...byGraph.envelope.rcptTo].sort(),
        'Bcc recipients get it either way',
      );
      assert.doesNotMatch(byGraph.raw.toString('latin1'), /^Bcc:/im);
    } finally {
      smtp.close();
      graph.close();
    }
  });

  it('when Graph answers 429 with Retry-After, then the send waits that long, tries again and is accepted once', async () => {
    h.sandbox.graph.failNext({
      status: 429,
      code: 'ApplicationThrottled',
      message: 'Application is over its MailboxConcurrency limit.',
      retryAfterSeconds: 1,
    });
    const started = Date.now();
    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.ok(Date.now() - started >= 1000, 'Retry-After was honoured');
    assert.equal(h.sandbox.exchange.messages.length, 1);
    assert.deepEqual(h.sandbox.graph.counters.errors, [{ status: 429, code: 'ApplicationThrottled' }]);
  });

  it("when Graph stays throttled past the call, then the caller gets 503 GRAPH_THROTTLED with Graph's Retry-After", async () => {
    h.sandbox.graph.failNext(
      {
        status: 429,
        code: 'ApplicationThrottled',
        message: 'Application is over its MailboxConcurrency limit.',
        retryAfterSeconds: 30,
      },
      10,
    );
    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.code, 'GRAPH_THROTTLED');
    assert.equal(reply.headers['retry-after'], '30');
    assert.equal(h.sandbox.graph.counters.errors.length, 1, 'a wait longer than the call is not waited in it');
  });

  it('when Graph carries a message out but its answer never comes, then it is not sent again in the call (it may have been accepted)', async () => {
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
      new GraphClient({ endpoint: config.graphEndpoint, tokens: graphTokens, timeoutInMs: 500 }),
    );
    h.sandbox.graph.acceptWithoutAnswer(1);
    const { withRetries, inCallRetryPolicy } = await import('../src/pipeline/retry.js');
    const mail = await composeMime(
      composeMessage(mailRequestSchema.parse(mailRequest()), { id: 'no-answer', mailbox: config.mailbox }),
    );
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
      const usage = await graph.budget.usage();
      assert.equal(usage.minute.used, 1, 'the message counts against the minute: it may have gone');
    } finally {
      graph.close();
    }
  });

  it('when many sends run at once, then at most 4 Graph requests of the app are in flight and none is throttled', async () => {
    h.sandbox.graph.setLimits({ latencyInMs: 50 });
    const replies = await Promise.all(Array.from({ length: 16 }, (_, i) => h.send(mailRequest({ subject: `n${i}` }))));
    assert.deepEqual(
      replies.map((r) => r.status),
      replies.map(() => 200),
    );
    const maxInFlight = h.sandbox.graph.counters.maxInFlight[h.sandbox.app.clientId.toLowerCase()] ?? 0;
    assert.ok(maxInFlight <= 4 && maxInFlight >= 2, `in flight at once: ${maxInFlight}`);
    assert.deepEqual(h.sandbox.graph.counters.errors, []);
  });

  it("when the Graph token is checked, then its claims are the app's and no token reaches a log", async () => {
    await h.send(mailRequest());
    const token = getRuntime().graphTokens!.peek()!.token;
    assert.equal(decodeJwt(token).aud, 'https://graph.microsoft.com');
    assert.ok(h.logs.every((line) => !line.includes(token)));
  });

  it("when a message is larger than Graph's sendMail takes (about 4 MB as base64) and the token holds no Mail.ReadWrite, then it is refused with 413 naming Mail.ReadWrite and nothing reaches Graph", async () => {
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { graphRoles: ['Mail.Send'] });
    const attachment = Buffer.alloc(3_200_000, 7).toString('base64');
    const reply = await h.send(
      mailRequest({
        attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', contentBase64: attachment }],
      }),
    );
    assert.equal(reply.status, 413, JSON.stringify(reply.body).slice(0, 300));
    assert.equal(reply.body.error.code, 'MESSAGE_TOO_LARGE');
    assert.match(reply.body.error.message, /Mail\.ReadWrite/);
    // Regression (review of issue 21): every caller reads a refusal of its own request whole, and this
    // one named the app's client id and the admin's commands; the doctor gives those to the admin
    assert.ok(!JSON.stringify(reply.body).includes(h.sandbox.app.clientId), 'the answer names no id of the app');
    assert.doesNotMatch(JSON.stringify(reply.body), /New-ManagementRoleAssignment|App registrations/);
    assert.equal(h.sandbox.graph.counters.requests, 0, 'a request Graph would refuse for size is never sent');
  });
});
