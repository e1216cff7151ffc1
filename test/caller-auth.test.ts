import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { main as callerCommand } from '../cli/caller.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';
import { enqueueMail } from '../src/functions/enqueue.js';
import {
  callerClaims,
  callerToken,
  tokenFromUnknownKey,
  tokenHmacWithPublicKey,
  unsignedToken,
} from './caller-tokens.js';

describe('callers with Entra tokens (EXOSEND_CALLER_AUTH=entra)', () => {
  let h: Harness;
  let q: QueueFixture;
  let entra: Record<string, string>;
  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
    entra = { ...q.settings, EXOSEND_CALLER_AUTH: 'entra' };
    h.restartApp(entra);
    const { sample } = h.sandbox.callers;
    // the admin's command, as the 403 below names it
    const status = await callerCommand([
      'add',
      sample.clientId,
      '--name',
      'erp',
      '--senders',
      h.sandbox.app.mailbox,
      '--recipients',
      '*@fabrikam.example,boss@contoso.example',
    ]);
    assert.equal(status, 0);
  });
  after(async () => {
    await q.close();
    await h.close();
  });
  beforeEach(() => h.reset(entra));

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const sendAs = (headers: Record<string, string>) =>
    h.send(mailRequest(), { headers: { 'x-functions-key': '', ...headers } });

  it('when a caller sends with a token from its app registration, then the mail goes out', async () => {
    const reply = await sendAs(bearer(await callerToken(h.sandbox, h.sandbox.callers.sample)));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(h.sandbox.exchange.counters.accepted, 1);
  });

  it('when the API asks for v2.0 tokens, then a token with azp and the API client ID as audience is taken', async () => {
    const api = h.sandbox.identity.registerApi({ appIdUri: `api://${randomUUID()}`, accessTokenVersion: 2 });
    h.sandbox.identity.assignApiRole(api.clientId, h.sandbox.callers.sample.clientId, 'Mail.Send.Exosend');
    h.restartApp({ ...entra, EXOSEND_API_AUDIENCE: `${api.appIdUri},${api.clientId}` });
    const token = await callerToken(h.sandbox, h.sandbox.callers.sample, api.appIdUri);
    assert.equal(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).ver, '2.0');
    const reply = await sendAs(bearer(token));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  });

  it('when only a function key is presented, then the answer is 401 with a Bearer challenge, and nothing is sent', async () => {
    const reply = await h.send(mailRequest());
    assert.equal(reply.status, 401);
    assert.equal(reply.body.error.code, 'CALLER_UNAUTHENTICATED');
    assert.equal(reply.headers['www-authenticate'], 'Bearer');
    assert.equal(h.sandbox.exchange.counters.accepted, 0);
  });

  const forged: Array<[string, (h: Harness) => Promise<string>, number, string]> = [
    [
      'the token is for another audience',
      (h) =>
        h.sandbox.identity.signToken(
          callerClaims(h.sandbox, h.sandbox.callers.sample, { aud: 'https://graph.microsoft.com' }),
        ),
      401,
      'CALLER_TOKEN_WRONG_AUDIENCE',
    ],
    [
      'the token comes from another tenant',
      (h) => {
        const other = randomUUID();
        return h.sandbox.identity.signToken(
          callerClaims(h.sandbox, h.sandbox.callers.sample, { iss: `https://sts.windows.net/${other}/`, tid: other }),
        );
      },
      401,
      'CALLER_TOKEN_WRONG_ISSUER',
    ],
    [
      'the token names this tenant in iss but another in tid',
      (h) => h.sandbox.identity.signToken(callerClaims(h.sandbox, h.sandbox.callers.sample, { tid: randomUUID() })),
      401,
      'CALLER_TOKEN_WRONG_ISSUER',
    ],
    [
      'the token expired two minutes ago',
      (h) => {
        const now = Math.floor(Date.now() / 1000);
        return h.sandbox.identity.signToken(callerClaims(h.sandbox, h.sandbox.callers.sample, { exp: now - 120 }));
      },
      401,
      'CALLER_TOKEN_EXPIRED',
    ],
    [
      'the calling app holds no app role on the API',
      (h) => callerToken(h.sandbox, h.sandbox.callers.roleless),
      403,
      'CALLER_ROLE_MISSING',
    ],
    [
      'the token is unsigned (alg none)',
      (h) => Promise.resolve(unsignedToken(callerClaims(h.sandbox, h.sandbox.callers.sample))),
      401,
      'CALLER_TOKEN_INVALID',
    ],
    [
      'the token is signed by a key the tenant never published',
      (h) => tokenFromUnknownKey(callerClaims(h.sandbox, h.sandbox.callers.sample)),
      401,
      'CALLER_TOKEN_INVALID',
    ],
    [
      "the token is HS256 keyed with the tenant's public key",
      (h) => tokenHmacWithPublicKey(h.sandbox, callerClaims(h.sandbox, h.sandbox.callers.sample)),
      401,
      'CALLER_TOKEN_INVALID',
    ],
    [
      'the token acts for a user (scp)',
      (h) =>
        h.sandbox.identity.signToken(callerClaims(h.sandbox, h.sandbox.callers.sample, { scp: 'user_impersonation' })),
      401,
      'CALLER_TOKEN_INVALID',
    ],
  ];
  for (const [when, token, status, code] of forged) {
    it(`when ${when}, then the answer is ${status} ${code}, and nothing is sent`, async () => {
      const reply = await sendAs(bearer(h.sandbox.identity.rememberSecret(await token(h))));
      assert.equal(reply.status, status, JSON.stringify(reply.body));
      assert.equal(reply.body.error.code, code);
      // RFC 6750 section 3.1: a refused token is invalid_token (401), one without the role insufficient_scope (403)
      const challenge = status === 401 ? 'Bearer error="invalid_token"' : 'Bearer error="insufficient_scope"';
      assert.equal(reply.headers['www-authenticate'], challenge);
      assert.ok(reply.body.error.message.length > 20, 'the error says what to change');
      assert.equal(h.sandbox.exchange.counters.accepted, 0);
    });
  }

  it('when the same forged-key token comes twice, then the tenant keys are fetched again at most once (cooldown)', async () => {
    const token = h.sandbox.identity.rememberSecret(
      await tokenFromUnknownKey(callerClaims(h.sandbox, h.sandbox.callers.sample)),
    );
    await sendAs(bearer(await callerToken(h.sandbox, h.sandbox.callers.sample)));
    const before = h.sandbox.identity.counters.jwksRequests;
    for (let i = 0; i < 5; i += 1) assert.equal((await sendAs(bearer(token))).status, 401);
    assert.ok(
      h.sandbox.identity.counters.jwksRequests - before <= 1,
      `${h.sandbox.identity.counters.jwksRequests - before} key fetches`,
    );
  });

  it('when a caller holds the role but has no policy, then the answer is 403 naming the command that gives it one, and nothing is sent', async () => {
    const { unregistered } = h.sandbox.callers;
    const reply = await sendAs(bearer(await callerToken(h.sandbox, unregistered)));
    assert.equal(reply.status, 403);
    assert.equal(reply.body.error.code, 'CALLER_NOT_REGISTERED');
    assert.equal(reply.headers['www-authenticate'], undefined, 'no other token would help');
    assert.match(reply.body.error.message, new RegExp(`exosend caller add ${unregistered.clientId}`));
    assert.equal(h.sandbox.exchange.counters.accepted, 0);
  });

  it('when a caller sends as a From its policy does not list (though exosend may send as it), then the answer is 403 and nothing is sent', async () => {
    const token = await callerToken(h.sandbox, h.sandbox.callers.sample);
    const reply = await h.send(mailRequest({ from: h.sandbox.app.sendAsAddress }), { headers: bearer(token) });
    assert.equal(reply.status, 403, JSON.stringify(reply.body));
    assert.equal(reply.body.error.code, 'SENDER_NOT_ALLOWED');
    assert.equal(h.sandbox.exchange.counters.accepted, 0);
  });

  it("when one recipient of three is outside the caller's patterns, then the whole request is refused with 403 naming it, and nothing goes to the other two", async () => {
    const token = await callerToken(h.sandbox, h.sandbox.callers.sample);
    const request = mailRequest({
      to: ['ada@fabrikam.example', 'BOSS@contoso.example'],
      bcc: ['eve@elsewhere.example'],
    });
    const reply = await h.send(request, { headers: bearer(token) });
    assert.equal(reply.status, 403, JSON.stringify(reply.body));
    assert.equal(reply.body.error.code, 'RECIPIENT_NOT_ALLOWED');
    assert.deepEqual(
      reply.body.error.details.map((d: { path: string }) => d.path),
      ['bcc.0'],
    );
    assert.equal(h.sandbox.exchange.counters.accepted, 0);
    const enqueued = await h.http(enqueueMail, { route: 'enqueue', body: request, headers: bearer(token) });
    assert.equal(enqueued.status, 403, 'the queue door refuses it too');
  });

  it('when the admin lists and removes callers, then the command shows the policy and removes it', async () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => void lines.push(line);
    try {
      assert.equal(await callerCommand(['list']), 0);
      const { other } = h.sandbox.callers;
      assert.equal(
        await callerCommand([
          'add',
          other.clientId,
          '--name',
          'reports',
          '--senders',
          h.sandbox.app.mailbox,
          '--daily-quota',
          '500',
          '--share',
          '2',
        ]),
        0,
      );
      assert.equal(await callerCommand(['remove', other.clientId]), 0);
      assert.equal(await callerCommand(['remove', other.clientId]), 0);
    } finally {
      console.log = log;
    }
    h.observe(lines.join('\n'));
    assert.match(
      lines[0]!,
      new RegExp(
        `^${h.sandbox.callers.sample.clientId}  erp  from: ${h.sandbox.app.mailbox}  to: \\*@fabrikam.example,boss@contoso.example  daily: mailbox  share: 1$`,
      ),
    );
    assert.match(lines[1]!, /^added .* \(reports\)/);
    assert.deepEqual(lines.slice(2), [
      `removed ${h.sandbox.callers.other.clientId}`,
      `no policy for ${h.sandbox.callers.other.clientId}`,
    ]);
  });
});
