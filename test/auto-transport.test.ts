import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { loadConfig } from '../src/config/load-config.js';
import { composeMessage, messageIdFor } from '../src/mail/compose.js';
import { mailRequestSchema } from '../src/mail/mail-request.js';
import { composeMime } from '../src/mail/mime.js';
import { getRuntime } from '../src/runtime/runtime.js';
import type { TransportSwitch } from '../src/transport/auto-transport.js';
import { createMailTransports } from '../src/transport/create-transports.js';
import { flush } from '../src/telemetry/telemetry.js';
import { busiestWindows } from './budget-windows.js';
import { mailRequest, startHarness, type Harness, type Reply } from './harness.js';

const eventsNamed = (h: Harness, name: string) =>
  h.sandbox.appInsights.envelopes.filter((e) => e.data?.baseData['name'] === name);

describe('EXOSEND_TRANSPORT=auto', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());
  beforeEach(() => {
    h.sandbox.exchange.messages.length = 0;
    h.sandbox.appInsights.envelopes.length = 0;
  });

  it('when SMTP AUTH is disabled halfway through a run of 300 messages, then each is delivered exactly once, the mailbox switches to Graph, the budget holds and telemetry shows the switch', async () => {
    const limit = 40;
    const windowInMs = 1000;
    h.reset({
      EXOSEND_TRANSPORT: 'auto',
      EXOSEND_RATE_PER_MINUTE: String(limit),
      EXOSEND_RATE_WINDOW_SECONDS: String(windowInMs / 1000),
      APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString,
    });
    const { exchange, app } = h.sandbox;
    exchange.setLimits({ messagesPerMinute: limit, rateWindowInMs: windowInMs });
    // Exchange refuses AUTH from now on; the sessions it authenticated before are ended (421) at their next message
    let disabled = false;
    const sessionsBefore = new Set<string>();
    exchange.setFaultInjector((c) => {
      if (c.stage !== 'mail') return undefined;
      if (!disabled) return void sessionsBefore.add(c.sessionId);
      return sessionsBefore.has(c.sessionId) ? { reply: '421 4.3.2 Service not active' } : undefined;
    });

    const total = 300;
    const statuses: number[] = [];
    const failures: string[] = [];
    let comebacks = 0;
    let next = 0;
    let done = 0;
    const worker = async () => {
      for (let i = next++; i < total; i = next++) {
        let reply: Reply;
        // a 429 or 503 says to come back (a 503 here: a session Exchange ended with 421 took this message
        // down with it before sending it); the same idempotency key makes it the same message
        for (let tries = 1; ; tries++) {
          reply = await h.send(mailRequest({ subject: `auto ${i}`, idempotencyKey: `auto-${i}` }));
          if (reply.status === 200 || tries === 5 || (reply.status !== 429 && reply.status !== 503)) break;
          comebacks += 1;
          await new Promise((r) => setTimeout(r, 200));
        }
        statuses.push(reply.status);
        if (reply.status !== 200) failures.push(JSON.stringify(reply.body.error?.diagnosis ?? reply.body));
        if (++done === total / 2) {
          disabled = true;
          exchange.configureTenant(app.tenantId, { smtpAuthDisabled: true });
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    assert.deepEqual(failures, [], 'every send answered 200');
    console.log(`auto: ${total} messages, ${comebacks} calls came back after a 429 or 503`);
    const byMessageId = new Map<string, number>();
    for (const m of exchange.messages) byMessageId.set(m.messageId, (byMessageId.get(m.messageId) ?? 0) + 1);
    for (let i = 0; i < total; i++)
      assert.equal(byMessageId.get(messageIdFor(`auto-${i}`, app.mailbox)), 1, `message ${i} delivered once`);
    assert.equal(exchange.messages.length, total, 'no message twice, none lost');

    const smtp = exchange.messages.filter((m) => m.transport === 'smtp');
    const graph = exchange.messages.filter((m) => m.transport === 'graph');
    assert.ok(smtp.length >= total / 2 - 8 && graph.length > 0, `smtp ${smtp.length}, graph ${graph.length}`);
    const switchedAt = Math.min(...graph.map((m) => m.receivedAt.getTime()));
    assert.ok(
      smtp.every((m) => m.receivedAt.getTime() <= switchedAt),
      'after the switch nothing goes by SMTP',
    );

    assert.ok(
      busiestWindows(exchange.messages, app.mailbox, windowInMs).messages <= limit,
      'never more than the limit in a sliding window, both ways together',
    );
    assert.deepEqual(
      exchange.counters.replies.filter((r) => r.code === 450 || r.code === 432),
      [],
      'Exchange throttled nothing',
    );
    assert.deepEqual(h.sandbox.graph.counters.errors, [], 'Graph throttled nothing');

    await flush();
    const switches = eventsNamed(h, 'exosend.transport-switch');
    assert.equal(switches.length, 1, 'one switch');
    assert.deepEqual(switches[0]!.data?.baseData['properties'], {
      mailbox: app.mailbox,
      from: 'smtp',
      to: 'graph',
      code: 'SMTP_AUTH_DISABLED',
    });
  });

  it('when SMTP AUTH is disabled from the start (scenario smtp-auth-disabled-auto), then the first send already arrives through Graph', async () => {
    h.reset({ EXOSEND_TRANSPORT: 'auto' });
    const { sandboxScenarios } = await import('../local/sandbox/index.js');
    sandboxScenarios['smtp-auth-disabled-auto'](h.sandbox);
    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.transport, 'graph');
    assert.equal(h.sandbox.exchange.counters.accepted, 1);
    assert.ok(
      h.sandbox.exchange.counters.replies.some((r) => r.code === 535),
      'SMTP was tried first',
    );
  });

  it('when a message is dropped after it may have reached Exchange, then auto does not send it through Graph', async () => {
    h.reset({ EXOSEND_TRANSPORT: 'auto' });
    h.sandbox.exchange.failNext('data', { drop: true });
    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.code, 'TEMPORARY_FAILURE');
    assert.equal(h.sandbox.graph.counters.requests, 0, 'no second way for a message that may have gone');
  });

  it('when SMTP AUTH comes back on, then the mailbox tries SMTP again after a while and returns to it', async () => {
    h.reset({ EXOSEND_TRANSPORT: 'auto' });
    const config = loadConfig();
    const { credential, tokens } = getRuntime();
    const switches: TransportSwitch[] = [];
    const { transports } = createMailTransports(config, credential, tokens, {
      smtpRetryInMs: 300,
      onSwitch: (c) => switches.push(c),
    });
    const transport = transports.get(config.mailbox)!;
    const mail = async (id: string) =>
      composeMime(composeMessage(mailRequestSchema.parse(mailRequest()), { id, mailbox: config.mailbox }));
    try {
      h.sandbox.exchange.configureTenant(h.sandbox.app.tenantId, { smtpAuthDisabled: true });
      assert.equal((await transport.send(await mail('a'))).transport, 'graph');
      h.sandbox.exchange.configureTenant(h.sandbox.app.tenantId, { smtpAuthDisabled: false });
      assert.equal((await transport.send(await mail('b'))).transport, 'graph', 'not before the wait is over');
      await new Promise((r) => setTimeout(r, 350));
      assert.equal((await transport.send(await mail('c'))).transport, 'smtp', 'SMTP is tried again and works');
      assert.deepEqual(
        switches.map((c) => `${c.from}->${c.to}`),
        ['smtp->graph', 'graph->smtp'],
      );
    } finally {
      transport.close();
    }
  });
});
