import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runProbe } from '../src/probe/probe.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { sandboxScenarios } from '../local/sandbox/index.js';
import { startHarness, type Harness } from './harness.js';
import { startServerWithOldTlsOnly } from './smtp-impostors.js';

const stagesOf = (report: Awaited<ReturnType<typeof runProbe>>) =>
  report.stages.map((s) => `${s.stage}:${s.ok ? 'ok' : 'FAIL'}`);

describe('the stage-by-stage probe', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());
  beforeEach(() => h.reset());

  it('when the setup is healthy and no recipient is given, then every stage passes up to AUTH and nothing is sent', async () => {
    const report = h.observe(await runProbe(getRuntime()));
    assert.equal(report.ok, true, JSON.stringify(report.diagnosis));
    assert.deepEqual(stagesOf(report), ['vault:ok', 'token:ok', 'claims:ok', 'connect:ok', 'auth:ok']);
    assert.deepEqual(report.token?.claims.roles, ['SMTP.SendAsApp']);
    assert.equal(h.sandbox.exchange.counters.authSuccesses, 1);
    assert.equal(h.sandbox.exchange.messages.length, 0);
  });

  it('when a recipient is given, then a test message with the run id arrives', async () => {
    const report = h.observe(await runProbe(getRuntime(), { to: 'ops@contoso.example' }));
    assert.equal(report.ok, true, JSON.stringify(report.diagnosis));
    assert.deepEqual(stagesOf(report).at(-1), 'send:ok');
    const [message] = h.sandbox.exchange.messages;
    assert.ok(message?.raw.toString().includes(report.runId));
    assert.equal(message?.messageId, report.messageId);
  });

  // Regression: the pool took all three of the mailbox's sessions, so a health check under load met
  // 432 4.3.2 and raised a false alarm (and could push a real send into 432).
  it('when sends keep the pool busy, then the probe still gets a session and its test message through', async () => {
    h.resetUnpaced();
    const request = { to: ['ada@fabrikam.example'], subject: 'busy', text: 'busy' };
    const sessions = () => h.sandbox.exchange.counters.maxConcurrentSessions[h.sandbox.app.mailbox.toLowerCase()] ?? 0;
    // the sends go on for as long as the probe runs, so the contention cannot be over before it starts
    let probing = true;
    const sender = async () => {
      const statuses: number[] = [];
      while (probing) statuses.push((await h.send(request)).status);
      return statuses;
    };
    const senders = Array.from({ length: 6 }, sender);
    while (sessions() < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const report = await runProbe(getRuntime(), { to: 'ops@contoso.example' }).finally(() => (probing = false));
    const statuses = (await Promise.all(senders)).flat();

    assert.deepEqual(statuses, Array(statuses.length).fill(200));
    assert.equal(h.observe(report).ok, true, JSON.stringify(report.diagnosis));
    assert.equal(sessions(), 3, "the probe's session ran alongside the pool's two: the contention happened");
    assert.equal(h.sandbox.exchange.counters.replies.filter((r) => r.code === 432).length, 0);
  });

  it('when a token is cached, then the probe makes no token request', async () => {
    await getRuntime().tokens.getToken();
    h.sandbox.identity.resetCounters();
    assert.equal(h.observe(await runProbe(getRuntime())).ok, true);
    assert.equal(h.sandbox.identity.counters.tokenRequests, 0);
  });

  it('when the token lacks SMTP.SendAsApp, then the claims stage fails and Exchange is never contacted', async () => {
    sandboxScenarios['missing-role'](h.sandbox);
    const report = h.observe(await runProbe(getRuntime()));
    assert.deepEqual(stagesOf(report), ['vault:ok', 'token:ok', 'claims:FAIL']);
    assert.equal(report.diagnosis?.code, 'TOKEN_ROLE_MISSING');
    assert.equal(h.sandbox.exchange.counters.connections, 0);
  });

  it('when SMTP AUTH is disabled, then the auth stage fails with SMTP_AUTH_DISABLED', async () => {
    sandboxScenarios['smtp-auth-disabled'](h.sandbox);
    const report = h.observe(await runProbe(getRuntime()));
    assert.deepEqual(stagesOf(report), ['vault:ok', 'token:ok', 'claims:ok', 'connect:ok', 'auth:FAIL']);
    assert.equal(report.diagnosis?.code, 'SMTP_AUTH_DISABLED');
  });

  it('when the From has no Send As, then the send stage fails with SEND_AS_DENIED', async () => {
    sandboxScenarios['send-as-denied'](h.sandbox);
    const report = h.observe(
      await runProbe(getRuntime(), { to: 'ops@contoso.example', from: h.sandbox.app.sendAsAddress }),
    );
    assert.equal(stagesOf(report).at(-1), 'send:FAIL');
    assert.equal(report.diagnosis?.code, 'SEND_AS_DENIED');
  });

  // Regression: nodemailer reports a refused connection only through the connection's 'error'
  // event, which the probe swallowed: the connect stage never settled and the health check hung.
  it('when the SMTP port refuses connections, then the connect stage fails with TEMPORARY_FAILURE instead of hanging', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    h.reset({ EXOSEND_SMTP_PORT: String(port) });

    const report = h.observe(await runProbe(getRuntime()));
    assert.deepEqual(stagesOf(report), ['vault:ok', 'token:ok', 'claims:ok', 'connect:FAIL']);
    assert.equal(report.diagnosis?.code, 'TEMPORARY_FAILURE');
  });

  it('when the server offers only TLS 1.0 and 1.1, then the tls stage fails with TLS_REJECTED and no AUTH is sent', async () => {
    const impostor = await startServerWithOldTlsOnly();
    h.reset({ EXOSEND_SMTP_PORT: String(impostor.port) });
    try {
      const report = h.observe(await runProbe(getRuntime()));
      assert.deepEqual(stagesOf(report), ['vault:ok', 'token:ok', 'claims:ok', 'connect:ok', 'tls:FAIL']);
      assert.equal(report.diagnosis?.code, 'TLS_REJECTED');
      assert.deepEqual(impostor.commands, []);
    } finally {
      await impostor.close();
    }
  });

  it('when the server offers no STARTTLS, then the tls stage fails with TLS_REJECTED', async () => {
    const sockets = new Set<Socket>();
    const plain = createServer((socket) => {
      sockets.add(socket);
      socket.write('220 relay.example ESMTP\r\n');
      socket.on('data', (data) => {
        if (/^EHLO/i.test(data.toString())) socket.write('250-relay.example\r\n250 8BITMIME\r\n');
        else socket.write('502 5.5.1 Unrecognized command\r\n');
      });
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    h.reset({ EXOSEND_SMTP_PORT: String((plain.address() as AddressInfo).port) });
    try {
      const report = h.observe(await runProbe(getRuntime()));
      assert.deepEqual(stagesOf(report), ['vault:ok', 'token:ok', 'claims:ok', 'connect:ok', 'tls:FAIL']);
      assert.equal(report.diagnosis?.code, 'TLS_REJECTED');
    } finally {
      for (const socket of sockets) socket.destroy();
      plain.close();
    }
  });
});
