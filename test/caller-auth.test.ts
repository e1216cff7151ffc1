import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { callerClaims, callerToken, tokenFromUnknownKey, tokenHmacWithPublicKey, unsignedToken } from './caller-tokens.js';

describe('callers with Entra tokens (EXOSEND_CALLER_AUTH=entra)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());
  beforeEach(() => h.reset({ EXOSEND_CALLER_AUTH: 'entra' }));

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const sendAs = (headers: Record<string, string>) => h.send(mailRequest(), { headers: { 'x-functions-key': '', ...headers } });

  it('when a caller sends with a token from its app registration, then the mail goes out', async () => {
    const reply = await sendAs(bearer(await callerToken(h.sandbox, h.sandbox.callers.sample)));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(h.sandbox.exchange.counters.accepted, 1);
  });

  it('when the API asks for v2.0 tokens, then a token with azp and the API client ID as audience is taken', async () => {
    const api = h.sandbox.identity.registerApi({ appIdUri: `api://${randomUUID()}`, accessTokenVersion: 2 });
    h.sandbox.identity.assignApiRole(api.clientId, h.sandbox.callers.sample.clientId, 'Mail.Send.Exosend');
    h.restartApp({ EXOSEND_CALLER_AUTH: 'entra', EXOSEND_API_AUDIENCE: `${api.appIdUri},${api.clientId}` });
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
    ['the token is for another audience', (h) => h.sandbox.identity.signToken(callerClaims(h.sandbox, h.sandbox.callers.sample, { aud: 'https://graph.microsoft.com' }) as never), 401, 'CALLER_TOKEN_WRONG_AUDIENCE'],
    ['the token comes from another tenant', (h) => {
      const other = randomUUID();
      return h.sandbox.identity.signToken(callerClaims(h.sandbox, h.sandbox.callers.sample, { iss: `https://sts.windows.net/${other}/`, tid: other }) as never);
    }, 401, 'CALLER_TOKEN_WRONG_ISSUER'],
    ['the token names this tenant in iss but another in tid', (h) => h.sandbox.identity.signToken(callerClaims(h.sandbox, h.sandbox.callers.sample, { tid: randomUUID() }) as never), 401, 'CALLER_TOKEN_WRONG_ISSUER'],
    ['the token expired two minutes ago', (h) => {
      const now = Math.floor(Date.now() / 1000);
      return h.sandbox.identity.signToken(callerClaims(h.sandbox, h.sandbox.callers.sample, { exp: now - 120 }) as never);
    }, 401, 'CALLER_TOKEN_EXPIRED'],
    ['the calling app holds no app role on the API', (h) => callerToken(h.sandbox, h.sandbox.callers.roleless), 403, 'CALLER_ROLE_MISSING'],
    ['the token is unsigned (alg none)', async (h) => unsignedToken(callerClaims(h.sandbox, h.sandbox.callers.sample)), 401, 'CALLER_TOKEN_INVALID'],
    ['the token is signed by a key the tenant never published', (h) => tokenFromUnknownKey(callerClaims(h.sandbox, h.sandbox.callers.sample)), 401, 'CALLER_TOKEN_INVALID'],
    ['the token is HS256 keyed with the tenant\'s public key', (h) => tokenHmacWithPublicKey(h.sandbox, callerClaims(h.sandbox, h.sandbox.callers.sample)), 401, 'CALLER_TOKEN_INVALID'],
    ['the token acts for a user (scp)', (h) => h.sandbox.identity.signToken(callerClaims(h.sandbox, h.sandbox.callers.sample, { scp: 'user_impersonation' }) as never), 401, 'CALLER_TOKEN_INVALID'],
  ];
  for (const [when, token, status, code] of forged) {
    it(`when ${when}, then the answer is ${status} ${code}, and nothing is sent`, async () => {
      const reply = await sendAs(bearer(h.sandbox.identity.rememberSecret(await token(h))));
      assert.equal(reply.status, status, JSON.stringify(reply.body));
      assert.equal(reply.body.error.code, code);
      assert.ok(reply.body.error.message.length > 20, 'the error says what to change');
      assert.equal(h.sandbox.exchange.counters.accepted, 0);
    });
  }

  it('when the same forged-key token comes twice, then the tenant keys are fetched again at most once (cooldown)', async () => {
    const token = h.sandbox.identity.rememberSecret(await tokenFromUnknownKey(callerClaims(h.sandbox, h.sandbox.callers.sample)));
    await sendAs(bearer(await callerToken(h.sandbox, h.sandbox.callers.sample)));
    const before = h.sandbox.identity.counters.jwksRequests;
    for (let i = 0; i < 5; i += 1) assert.equal((await sendAs(bearer(token))).status, 401);
    assert.ok(h.sandbox.identity.counters.jwksRequests - before <= 1, `${h.sandbox.identity.counters.jwksRequests - before} key fetches`);
  });
});
