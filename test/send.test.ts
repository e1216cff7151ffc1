import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { simpleParser, type AddressObject } from 'mailparser';
import { getRuntime } from '../src/runtime/runtime.js';
import { mailRequest, startHarness, type Harness } from './harness.js';

const addresses = (field: AddressObject | AddressObject[] | undefined) =>
  [field ?? []].flat().flatMap((a) => a.value.map((v) => v.address));

describe('POST /api/send', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());
  // pacing has its own tests: here it would only make fifty sends take two minutes
  beforeEach(() => h.resetUnpaced());

  it('when a request has text, html, cc, bcc and an attachment, then Exchange receives that envelope and MIME from the mailbox', async () => {
    const pdf = Buffer.from('%PDF-1.4 quarterly figures\n');
    const reply = await h.send(
      mailRequest({
        to: ['ada@fabrikam.example'],
        cc: ['grace@fabrikam.example'],
        bcc: ['audit@contoso.example'],
        replyTo: 'desk@contoso.example',
        subject: 'Quarterly report',
        text: 'Plain body',
        html: '<p>HTML body</p>',
        headers: { 'X-Ticket': '123' },
        attachments: [{ filename: 'q3.pdf', contentType: 'application/pdf', contentBase64: pdf.toString('base64') }],
      }),
    );

    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(reply.body.accepted.sort(), [
      'ada@fabrikam.example',
      'audit@contoso.example',
      'grace@fabrikam.example',
    ]);
    assert.deepEqual(reply.body.rejected, []);
    assert.match(reply.body.response, /^250 2\.0\.0/);

    const [received] = h.sandbox.exchange.messages;
    assert.ok(received);
    const mailbox = h.sandbox.app.mailbox;
    assert.equal(received.mailbox, mailbox, 'user= in AUTH XOAUTH2 is the mailbox');
    assert.equal(received.envelope.mailFrom, mailbox);
    assert.deepEqual([...received.envelope.rcptTo].sort(), [
      'ada@fabrikam.example',
      'audit@contoso.example',
      'grace@fabrikam.example',
    ]);
    assert.equal(received.claims.aud, 'https://outlook.office365.com');
    assert.deepEqual(received.claims.roles, ['SMTP.SendAsApp']);
    assert.equal(received.claims.appid, h.sandbox.app.clientId);

    const mime = await simpleParser(received.raw);
    assert.deepEqual(addresses(mime.from), [mailbox]);
    assert.deepEqual(addresses(mime.to), ['ada@fabrikam.example']);
    assert.deepEqual(addresses(mime.cc), ['grace@fabrikam.example']);
    assert.deepEqual(addresses(mime.replyTo), ['desk@contoso.example']);
    assert.equal(mime.headers.get('bcc'), undefined, 'Bcc stays out of the message');
    assert.equal(mime.subject, 'Quarterly report');
    assert.equal(mime.text?.trim(), 'Plain body');
    assert.equal(mime.html, '<p>HTML body</p>');
    assert.equal(mime.headers.get('x-ticket'), '123');
    assert.equal(mime.messageId, reply.body.messageId);
    assert.equal(mime.attachments.length, 1);
    assert.equal(mime.attachments[0]?.filename, 'q3.pdf');
    assert.equal(mime.attachments[0]?.contentType, 'application/pdf');
    assert.deepEqual(mime.attachments[0]?.content, pdf);
  });

  // Regression: the base64 check was a regular expression with a repeated group, which overflowed
  // the stack on a few megabytes and turned a valid attachment into a crash.
  it('when a request carries a 10 MB attachment, then it arrives byte for byte', async () => {
    const data = Buffer.alloc(10 * 1024 * 1024, 'exosend');
    const reply = await h.send(
      mailRequest({ attachments: [{ filename: 'big.bin', contentBase64: data.toString('base64') }] }),
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const mime = await simpleParser(h.sandbox.exchange.messages.at(-1)!.raw);
    assert.deepEqual(mime.attachments[0]?.content, data);
  });

  it('when 50 requests are sent one after another, then they cost one token request and one vault read', async () => {
    for (let i = 0; i < 50; i++) {
      const reply = await h.send(mailRequest({ subject: `sequential ${i}` }));
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
    }
    assert.equal(h.sandbox.exchange.messages.filter((m) => /sequential/.test(m.raw.toString())).length >= 50, true);
    assert.equal(h.sandbox.identity.counters.tokenRequests, 1);
    assert.equal(h.sandbox.vault.reads, 1);
  });

  it('when 20 requests arrive at once on a cold worker, then they share one token request and at most two SMTP sessions (the third is for the health check)', async () => {
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => h.send(mailRequest({ subject: `concurrent ${i}` }))),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(20).fill(200),
    );
    assert.equal(h.sandbox.identity.counters.tokenRequests, 1);
    assert.equal(h.sandbox.vault.reads, 1);
    assert.ok(h.sandbox.exchange.counters.connections <= 2, `${h.sandbox.exchange.counters.connections} connections`);
  });

  it('when the cached token has 9 minutes left, then it is replaced before the next send', async () => {
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { lifetimeSeconds: 9 * 60 });
    try {
      assert.equal((await h.send(mailRequest())).status, 200);
      h.sandbox.identity.resetCounters();
      assert.equal((await h.send(mailRequest())).status, 200);
      assert.equal(h.sandbox.identity.counters.tokenRequests, 1);
    } finally {
      h.sandbox.identity.updateApp(h.sandbox.app.clientId, { lifetimeSeconds: 3600 });
    }
  });

  it('when the token has 11 minutes left, then it is reused', async () => {
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { lifetimeSeconds: 11 * 60 });
    try {
      assert.equal((await h.send(mailRequest())).status, 200);
      assert.equal((await h.send(mailRequest())).status, 200);
      assert.equal(h.sandbox.identity.counters.tokenRequests, 1);
    } finally {
      h.sandbox.identity.updateApp(h.sandbox.app.clientId, { lifetimeSeconds: 3600 });
    }
  });

  it('when the secret was rotated in Entra and the vault, then the next token request reads the vault again and sends', async () => {
    assert.equal((await h.send(mailRequest())).status, 200);
    const rotated = `rotated-${Date.now()}`;
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { secrets: [rotated] });
    h.sandbox.vault.setSecret('exosend-client-secret', rotated);
    getRuntime().tokens.invalidate(getRuntime().tokens.peek()!.token); // as if the hour had passed

    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(h.sandbox.vault.reads, 2);
    h.sandbox.identity.updateApp(h.sandbox.app.clientId, { secrets: [h.sandbox.app.secret] });
    h.sandbox.vault.setSecret('exosend-client-secret', h.sandbox.app.secret);
  });

  it('when the health check asks for a secret older than it allows, then the vault is read again and a rotated expiry is seen', async () => {
    const { credential } = getRuntime();
    const first = await credential.prepare();
    const later = new Date(Date.now() + 400 * 24 * 3600 * 1000);
    h.sandbox.vault.setSecret(h.sandbox.app.secretName, h.sandbox.app.secret, { expiresOn: later });

    assert.equal(
      (await credential.prepare({ maxAgeInMs: 60 * 60 * 1000 })).expiresOn?.getTime(),
      first.expiresOn?.getTime(),
      'within the hour: the cached copy',
    );
    assert.equal(h.sandbox.vault.reads, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(
      (await credential.prepare({ maxAgeInMs: 1 })).expiresOn?.toISOString(),
      new Date(Math.floor(later.getTime() / 1000) * 1000).toISOString(),
    );
    assert.equal(h.sandbox.vault.reads, 2);
    h.sandbox.vault.setSecret(h.sandbox.app.secretName, h.sandbox.app.secret, {
      expiresOn: h.sandbox.app.secretExpiresOn,
    });
  });

  it('when Exchange refuses a token at AUTH once, then the token is dropped and one fresh attempt succeeds', async () => {
    h.sandbox.exchange.failNext('auth', { reply: '535 5.7.3 Authentication unsuccessful' });

    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(h.sandbox.identity.counters.tokenRequests, 2);
    assert.equal(h.sandbox.exchange.counters.authAttempts, 2);
  });
});
