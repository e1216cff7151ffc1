// An SMTP session's connection (src/transport/smtp-session.ts), against the sandbox's Exchange
// stand-in over real SMTP with STARTTLS and XOAUTH2: what nodemailer's pool did for each session
// (lib/smtp-pool/pool-resource.js) the session now does itself, and these hold it to that.
// It needs the sandbox CA trusted at process start (scripts/test.mjs sets NODE_EXTRA_CA_CERTS).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { startSandbox, type Sandbox } from '../local/sandbox/index.js';
import { SmtpSession } from '../src/transport/smtp-session.js';
import { startServerWithRset } from './smtp-impostors.js';

let sandbox: Sandbox;
const to = 'ada@fabrikam.example';

before(async () => {
  sandbox = await startSandbox();
});
after(() => sandbox.close());
beforeEach(() => {
  sandbox.exchange.resetUsage();
  sandbox.exchange.resetCounters();
  sandbox.exchange.setLimits({ messagesPerMinute: 0 });
});

function session(): SmtpSession {
  const { tenantId, clientId, secret, mailbox } = sandbox.app;
  const credential = new ClientSecretCredential(tenantId, clientId, secret, {
    authorityHost: sandbox.identity.authorityHost,
    disableInstanceDiscovery: true,
  });
  return new SmtpSession({
    host: sandbox.exchange.host,
    port: sandbox.exchange.port,
    mailbox,
    token: async () => (await credential.getToken('https://outlook.office365.com/.default')).token,
  });
}

async function message(index: number): Promise<Buffer> {
  const from = sandbox.app.mailbox;
  return new MailComposer({ from, to, subject: `Session ${index}`, text: 'Hello.' }).compile().build();
}

const envelope = () => ({ from: sandbox.app.mailbox, to: [to] });

describe('an SMTP session', () => {
  it('when messages follow one another, then they share one connection and one AUTH', async () => {
    const smtp = session();
    for (let i = 0; i < 5; i++) await smtp.send(envelope(), await message(i));
    await smtp.close();
    assert.equal(sandbox.exchange.counters.accepted, 5);
    assert.equal(sandbox.exchange.counters.connections, 1);
    assert.equal(sandbox.exchange.counters.authSuccesses, 1);
  });

  it('when Exchange refuses a message, then the session resets the transaction and the next message goes on the same connection', async () => {
    const smtp = session();
    await smtp.send(envelope(), await message(0));
    sandbox.exchange.failNext(
      'data',
      '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.',
    );
    await assert.rejects(smtp.send(envelope(), await message(1)), { code: 'EMESSAGE', responseCode: 550 });
    await smtp.send(envelope(), await message(2));
    await smtp.close();
    assert.equal(sandbox.exchange.counters.accepted, 2);
    assert.equal(sandbox.exchange.counters.connections, 1, 'the refusal kept the connection');
  });

  it('when the connection is lost during a send, then that send fails and the next one opens a new connection and AUTHs again', async () => {
    const smtp = session();
    await smtp.send(envelope(), await message(0));
    sandbox.exchange.failNext('mail', { drop: true });
    await assert.rejects(smtp.send(envelope(), await message(1)), { code: /^E(CONNECTION|SOCKET)$/ });
    await smtp.send(envelope(), await message(2));
    await smtp.close();
    assert.equal(sandbox.exchange.counters.accepted, 2);
    assert.equal(sandbox.exchange.counters.connections, 2);
    assert.equal(sandbox.exchange.counters.authSuccesses, 2);
  });

  it('when Exchange ends an idle session, then the next send opens a new connection and succeeds', async () => {
    const smtp = session();
    await smtp.send(envelope(), await message(0));
    sandbox.exchange.endSessions();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the FIN reaches the client
    await smtp.send(envelope(), await message(1));
    await smtp.close();
    assert.equal(sandbox.exchange.counters.accepted, 2);
    assert.equal(sandbox.exchange.counters.connections, 2);
  });

  it('when Exchange refuses the token at AUTH, then the send fails with EAUTH 535 and the next send opens a new connection', async () => {
    const smtp = session();
    sandbox.exchange.failNext(
      'auth',
      '535 5.7.3 Authentication unsuccessful [SN4PR0601CA0002.namprd06.prod.outlook.com]',
    );
    await assert.rejects(smtp.send(envelope(), await message(0)), { code: 'EAUTH', responseCode: 535 });
    await smtp.send(envelope(), await message(1));
    await smtp.close();
    assert.equal(sandbox.exchange.counters.accepted, 1);
    assert.equal(sandbox.exchange.counters.connections, 2);
  });

  it('when a connection has sent 100 messages, then the next message goes on a new one, as nodemailer pool did', async () => {
    const smtp = session();
    const raw = await message(0);
    for (let i = 0; i < 101; i++) await smtp.send(envelope(), raw);
    await smtp.close();
    assert.equal(sandbox.exchange.counters.accepted, 101);
    assert.equal(sandbox.exchange.counters.connections, 2);
  });

  it(
    'when the session is closed during a send, then that send still gets its answer and no later send is taken',
    { timeout: 15_000 },
    async () => {
      const smtp = session();
      await smtp.send(envelope(), await message(0));
      const sending = smtp.send(envelope(), await message(1));
      await smtp.close();
      await sending;
      await assert.rejects(smtp.send(envelope(), await message(2)), /closed/);
      assert.equal(sandbox.exchange.counters.accepted, 2);
    },
  );

  it('when the session is closed during a send, then close resolves only once that send has its answer and the connection has ended', async () => {
    const smtp = session();
    await smtp.send(envelope(), await message(0));
    let settled = false;
    const sending = smtp.send(envelope(), await message(1)).finally(() => (settled = true));
    await smtp.close();
    assert.ok(settled, 'the lease would go back while the send was still on the connection');
    await sending;
  });

  it('when the session is closed while its connection is still being opened, then nothing is sent and close resolves only once that connection has ended', async () => {
    const smtp = session();
    let settled = false;
    const refused = assert.rejects(smtp.send(envelope(), await message(0)), /closed/).finally(() => (settled = true));
    await smtp.close();
    assert.ok(settled, 'close resolved while a connection was still being opened under the lease');
    await refused;
    assert.equal(sandbox.exchange.counters.accepted, 0);
  });
});

// Regressions found in review: nodemailer drops the callback of a command in flight when its
// connection goes, and a refused RSET reopened a connection after the session had been closed.
describe('an SMTP session, when RSET goes wrong', () => {
  const oneSession = (port: number) =>
    new SmtpSession({
      host: '127.0.0.1',
      port,
      mailbox: 'reports@contoso.example',
      token: () => Promise.resolve('token'),
    });
  const refused = { from: 'reports@contoso.example', to: ['nobody@contoso.example'] };

  it(
    'when the connection goes while the session resets after a refusal, then the next send does not wait for ever: it opens a new connection',
    { timeout: 10_000 },
    async () => {
      const server = await startServerWithRset('drop');
      try {
        const smtp = oneSession(server.port);
        await assert.rejects(smtp.send(refused, await message(0)), { code: 'EENVELOPE', responseCode: 550 });
        // this server refuses every recipient: the second send is refused too, on a new connection
        await assert.rejects(smtp.send(refused, await message(1)), { code: 'EENVELOPE', responseCode: 550 });
        assert.equal(server.connections(), 2);
        await smtp.close();
      } finally {
        await server.close();
      }
    },
  );

  it('when RSET is refused and the session is closed, then no connection is opened again', async () => {
    const server = await startServerWithRset('refuse');
    try {
      const smtp = oneSession(server.port);
      await assert.rejects(smtp.send(refused, await message(0)), { code: 'EENVELOPE', responseCode: 550 });
      await smtp.close();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(server.connections(), 1, 'a connection without a lease');
      assert.equal(server.open(), 0);
    } finally {
      await server.close();
    }
  });

  it('when a connection has had 100 messages, refused ones included, then the next goes on a new one, as nodemailer pool did', async () => {
    // each wait on a connection stays attached to it until it ends: refusals must not keep it for ever
    const server = await startServerWithRset('answer');
    try {
      const smtp = oneSession(server.port);
      const raw = await message(0);
      for (let i = 0; i < 101; i++)
        await assert.rejects(smtp.send(refused, raw), { code: 'EENVELOPE', responseCode: 550 });
      await smtp.close();
      assert.equal(server.connections(), 2);
    } finally {
      await server.close();
    }
  });

  it('when the session is closed while a send waits for the RSET after a refusal, then that send fails and never reaches Exchange', async () => {
    const server = await startServerWithRset('slow');
    try {
      const smtp = oneSession(server.port);
      await assert.rejects(smtp.send(refused, await message(0)), { code: 'EENVELOPE', responseCode: 550 });
      // the RSET is answered 300 ms later: this send waits for it, and the session is closed meanwhile
      const waiting = smtp.send(refused, await message(1));
      const closed = smtp.close();
      await assert.rejects(waiting, /closed before this send/);
      await closed;
      assert.equal(
        server.commands.filter((c) => c.startsWith('MAIL')).length,
        1,
        `only the first message was sent: ${server.commands.join(', ')}`,
      );
    } finally {
      await server.close();
    }
  });

  it('when Exchange does not answer QUIT, then close cuts the connection before it resolves', async () => {
    const server = await startServerWithRset('answer', { answerQuit: false });
    try {
      const smtp = oneSession(server.port);
      await assert.rejects(smtp.send(refused, await message(0)), { code: 'EENVELOPE', responseCode: 550 });
      await smtp.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(server.open(), 0, 'the lease would go back while Exchange still counts the session');
    } finally {
      await server.close();
    }
  });
});
