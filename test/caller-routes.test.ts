import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { main as callerCommand } from '../cli/caller.js';
import { callerRefusalCodes } from '../src/auth/caller-refused.js';
import { failureAnswers, type FailureAnswer } from '../src/http/error-response.js';
import { openApiSecurity } from '../src/http/openapi-security.js';
import { callerClaims, callerToken } from './caller-tokens.js';
import { functionKey, startHarness, type Harness } from './harness.js';
import { responseValidator } from './openapi-responses.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';

interface Route {
  name: string;
  route: string;
  methods: string[];
  authLevel: string;
  checksCaller: boolean;
}

const modes = ['key', 'entra', 'both'] as const;
type Credential =
  'nothing' | 'key' | 'wrong key' | 'wrong key of the same length' | 'shorter key' | 'token' | 'garbage token';
const credentials: Credential[] = [
  'nothing',
  'key',
  'wrong key',
  'wrong key of the same length',
  'shorter key',
  'token',
  'garbage token',
];

/** What each EXOSEND_CALLER_AUTH value must let through; everything else is 401. */
const admits = (mode: (typeof modes)[number], credential: Credential) =>
  (credential === 'key' && mode !== 'entra') || (credential === 'token' && mode !== 'key');

describe('every route under every EXOSEND_CALLER_AUTH value, as the host indexes and serves it', () => {
  let h: Harness;
  let q: QueueFixture;
  const children: ChildProcess[] = [];
  const workers = new Map<string, { port: number; routes: Route[] }>();
  let token: string;
  /** A port nothing listens on: the tenant's keys cannot be read there. */
  let deadPort: number;

  before(async () => {
    h = await startHarness(import.meta.filename);
    q = await startQueueFixture(h);
    token = await callerToken(h.sandbox, h.sandbox.callers.sample);
    h.restartApp(q.settings);
    assert.equal(
      await callerCommand([
        'add',
        h.sandbox.callers.sample.clientId,
        '--name',
        'erp',
        '--senders',
        h.sandbox.app.mailbox,
      ]),
      0,
    );
    deadPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    await Promise.all(
      [...modes, 'keys unavailable' as const].map(async (mode) => {
        const env = {
          ...process.env,
          ...h.sandbox.settings,
          ...q.settings,
          EXOSEND_CALLER_AUTH: mode === 'keys unavailable' ? 'entra' : mode,
          ...(mode === 'both' && { EXOSEND_CALLER_KEY: functionKey }),
          // the caller check reads the tenant's signing keys from the authority: here, from nowhere
          ...(mode === 'keys unavailable' && { AZURE_AUTHORITY_HOST: `https://127.0.0.1:${deadPort}` }),
          SCALE_OUT_FUNCTION_KEY: functionKey,
        };
        // the app's own entry in a worker of its own: registrations are made once, at load, from the settings
        const child = fork('dist/test/scale-out-worker.js', ['http'], {
          env,
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        });
        children.push(child);
        child.stderr!.resume();
        const ready = await new Promise<{ port: number; routes: Route[] }>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`the ${mode} worker exited (${code})`)));
          createInterface({ input: child.stdout! }).on('line', (line) => {
            const parsed = JSON.parse(line) as { ready?: string; port: number; routes: Route[] };
            if (parsed.ready) resolve(parsed);
            // the worker's log lines are what the app said: the secret check reads them
            else h.observe(line);
          });
        });
        workers.set(mode, ready);
      }),
    );
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await q.close();
    await h.close();
  });

  it('when the app is indexed under each value, then every HTTP route checks its caller, at the authLevel the value implies', () => {
    for (const mode of modes) {
      const { routes } = workers.get(mode)!;
      assert.ok(routes.length >= 5, `${mode}: only ${routes.length} routes`);
      for (const route of routes) {
        assert.ok(route.checksCaller, `${mode}: route ${route.name} is registered without the caller check`);
        assert.equal(route.authLevel, mode === 'key' ? 'function' : 'anonymous', `${mode}: ${route.name}`);
      }
    }
  });

  const headersFor = (credential: Credential): Record<string, string> => {
    switch (credential) {
      case 'nothing':
        return {};
      case 'key':
        return { 'x-functions-key': functionKey };
      case 'wrong key':
        return { 'x-functions-key': `${functionKey}x` };
      case 'wrong key of the same length':
        return { 'x-functions-key': `${functionKey.slice(0, -1)}${functionKey.endsWith('0') ? '1' : '0'}` };
      case 'shorter key':
        return { 'x-functions-key': functionKey.slice(0, -1) };
      case 'token':
        return { authorization: `Bearer ${token}` };
      case 'garbage token':
        return { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.AAAA' };
    }
  };

  for (const mode of modes) {
    for (const credential of credentials) {
      const expected = admits(mode, credential) ? 'admitted' : '401';
      it(`when EXOSEND_CALLER_AUTH=${mode} and a caller presents ${credential === 'nothing' ? 'no credential' : `a ${credential}`} to each route, then each answers ${expected}`, async () => {
        const { port, routes } = workers.get(mode)!;
        const sent = h.sandbox.exchange.counters.accepted;
        for (const route of routes) {
          for (const method of route.methods) {
            const path = route.route.replace(/\{[^}]+\}/g, 'no-such-id');
            // an empty mail request: an admitted caller gets 400, so that nothing is sent
            const body = method === 'POST' ? '{}' : undefined;
            const reply = await fetch(`http://127.0.0.1:${port}/api/${path}`, {
              method,
              headers: { 'content-type': 'application/json', ...headersFor(credential) },
              ...(body && { body }),
            });
            const text = h.observe(await reply.text());
            if (expected === '401')
              assert.equal(reply.status, 401, `${mode} ${credential} ${method} /api/${path}: ${text}`);
            else
              assert.ok(
                ![401, 403].includes(reply.status),
                `${mode} ${credential} ${method} /api/${path} answered ${reply.status}: ${text}`,
              );
          }
        }
        assert.equal(h.sandbox.exchange.counters.accepted, sent, 'nothing is sent');
      });
    }
  }

  it('when each refusal a caller can earn comes from each route under each value, then its status, body and headers are what the document that worker serves says', async () => {
    // Regression: the caller refusals (401, 403, 503 CALLER_*) were answered beside failureAnswers,
    // and the OpenAPI document described only a function key's 401 on every route.
    const { sample, roleless, unregistered } = h.sandbox.callers;
    const now = Math.floor(Date.now() / 1000);
    const forged = async (overrides: Record<string, unknown>) =>
      h.sandbox.identity.rememberSecret(await h.sandbox.identity.signToken(callerClaims(h.sandbox, sample, overrides)));
    const other = '00000000-0000-4000-8000-000000000001';
    const bearer = (value: string) => ({ authorization: `Bearer ${value}` });
    const refusals: [string, Record<string, string>][] = [
      ['no credential', headersFor('nothing')],
      ['a wrong key', headersFor('wrong key')],
      ['a garbage token', headersFor('garbage token')],
      ['a token for another audience', bearer(await forged({ aud: 'https://graph.microsoft.com' }))],
      ['a token of another tenant', bearer(await forged({ iss: `https://sts.windows.net/${other}/`, tid: other }))],
      ['an expired token', bearer(await forged({ exp: now - 120 }))],
      ['a token without the role', bearer(await callerToken(h.sandbox, roleless))],
      ['a token of an app with no policy', bearer(await callerToken(h.sandbox, unregistered))],
    ];
    const answered = new Set<string>();
    const sent = h.sandbox.exchange.counters.accepted;
    for (const [worker, mode, tries] of [
      ...modes.map((mode) => [mode, mode, refusals] as const),
      // the tenant's keys cannot be read: even a good token cannot be checked
      ['keys unavailable', 'entra', [['a good token', bearer(token)]]] as const,
    ]) {
      const { port, routes } = workers.get(worker)!;
      // the document as the worker of this value serves it, to a caller it admits
      const served = await fetch(`http://127.0.0.1:${workers.get(mode)!.port}/api/openapi.json`, {
        headers: headersFor(mode === 'key' ? 'key' : 'token'),
      });
      assert.equal(served.status, 200);
      const document = (await served.json()) as Record<string, any>;
      assert.deepEqual(document['security'], openApiSecurity(mode).requirements, `${mode}: the document follows it`);
      const described = responseValidator(document);
      const challenges = document['components'].headers.WWWAuthenticate.schema.enum as string[];
      for (const [what, headers] of tries) {
        for (const route of routes) {
          for (const method of route.methods) {
            const path = route.route.replace(/\{[^}]+\}/g, 'no-such-id');
            const reply = await fetch(`http://127.0.0.1:${port}/api/${path}`, {
              method,
              headers: { 'content-type': 'application/json', ...headers },
              ...(method === 'POST' && { body: '{}' }),
            });
            const text = h.observe(await reply.text());
            const where = `${worker}, ${what}, ${method} /api/${path} answered ${reply.status} ${text.slice(0, 300)}`;
            assert.ok([401, 403, 503].includes(reply.status), where);
            const body = text ? (JSON.parse(text) as { error: { code: string } }) : undefined;
            if (body) answered.add(body.error.code);
            const answer = described(`/${route.route}`, method.toLowerCase(), reply.status, body);
            assert.ok(answer.described, `${where}: ${answer.errors}`);
            assert.ok(answer.ok, `${where}: not as the document says: ${answer.errors}`);
            // Retry-After comes with every answer of its status; a challenge only with the codes whose
            // answer carries one (403: the role missing, not the policy), and always as described
            assert.equal(
              reply.headers.has('Retry-After'),
              Boolean(answer.headers['Retry-After']),
              `${where}: Retry-After`,
            );
            const challenge = reply.headers.get('www-authenticate') ?? undefined;
            const expected =
              body && (Object.values(failureAnswers) as FailureAnswer[]).find((a) => a.codes.includes(body.error.code));
            assert.equal(challenge, expected?.wwwAuthenticate, `${where}: WWW-Authenticate`);
            if (challenge) {
              assert.ok(answer.headers['WWW-Authenticate'], `${where}: WWW-Authenticate sent but not described`);
              assert.ok(challenges.includes(challenge), `${where}: WWW-Authenticate ${challenge}`);
            }
            // the host's empty 401 under key; exosend's own refusals, with their code, under entra and both
            assert.equal(body === undefined, mode === 'key', where);
          }
        }
      }
    }
    assert.deepEqual([...answered].sort(), [...callerRefusalCodes].sort(), 'every caller refusal came from the routes');
    assert.equal(h.sandbox.exchange.counters.accepted, sent, 'nothing is sent');
  });
});
