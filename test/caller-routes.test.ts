import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { main as callerCommand } from '../cli/caller.js';
import { callerToken } from './caller-tokens.js';
import { functionKey, startHarness, type Harness } from './harness.js';
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
    await Promise.all(
      modes.map(async (mode) => {
        const env = {
          ...process.env,
          ...h.sandbox.settings,
          ...q.settings,
          EXOSEND_CALLER_AUTH: mode,
          ...(mode === 'both' && { EXOSEND_CALLER_KEY: functionKey }),
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
});
