import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { consoleRefusal } from '../local/console/console-guard.js';
import { createConsole } from '../local/console/console-server.js';

const port = 7071;
const request = (headers: Record<string, string>) =>
  ({ headers: { host: `127.0.0.1:${port}`, ...headers } }) as unknown as IncomingMessage;
const own = { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin', 'x-exosend-console': '1' };

describe('the console guard', () => {
  it("when the console's own page calls it, then it is served, on each loopback name", () => {
    assert.equal(consoleRefusal(request(own), port, 'post'), undefined);
    assert.equal(
      consoleRefusal(request({ 'x-exosend-console': '1', 'sec-fetch-site': 'same-origin' }), port, 'json'),
      undefined,
      'a same-origin GET carries no Origin',
    );
    assert.equal(
      consoleRefusal(request({ ...own, host: `localhost:${port}`, origin: `http://localhost:${port}` }), port, 'post'),
      undefined,
    );
    assert.equal(
      consoleRefusal(request({ 'sec-fetch-site': 'none' }), port, 'page'),
      undefined,
      'the developer typed the address',
    );
    assert.equal(
      consoleRefusal(request({}), port, 'page'),
      undefined,
      'curl, or a browser that sends no fetch metadata',
    );
  });

  const refused: [string, Record<string, string>, 'page' | 'json' | 'post'][] = [
    ['a rebound host name (DNS rebinding)', { ...own, host: `rebound.example:${port}` }, 'json'],
    ['the loopback address on another port', { ...own, host: '127.0.0.1:80' }, 'json'],
    ['no Host at all', { ...own, host: '' }, 'page'],
    ['another origin', { ...own, origin: 'https://evil.example' }, 'post'],
    ['another loopback port as origin', { ...own, origin: 'http://127.0.0.1:8080' }, 'post'],
    ['a cross-site fetch that hides its Origin', { 'sec-fetch-site': 'cross-site', 'x-exosend-console': '1' }, 'json'],
    ['a same-site page on another port', { 'sec-fetch-site': 'same-site', 'x-exosend-console': '1' }, 'json'],
    ['a typed address for a JSON call', { 'sec-fetch-site': 'none', 'x-exosend-console': '1' }, 'json'],
    ['a POST without an Origin', { 'sec-fetch-site': 'same-origin', 'x-exosend-console': '1' }, 'post'],
    [
      'a JSON call without the console header (a plain form or img)',
      { origin: own.origin, 'sec-fetch-site': 'same-origin' },
      'json',
    ],
    ['a cross-site page load (framing, a link)', { 'sec-fetch-site': 'cross-site' }, 'page'],
  ];
  for (const [what, headers, kind] of refused) {
    it(`when ${what} reaches it, then it is refused`, () => {
      assert.notEqual(consoleRefusal(request(headers), port, kind), undefined);
    });
  }
});

describe("the console page's message frame", () => {
  // Regression (surviving mutant): the frame's `sandbox` attribute could be removed and no test saw it,
  // since the message's CSP sandboxes it too. The attribute is the second layer, checked on its own.
  it('when the console page is served, then its message frame is sandboxed with no allow-scripts or allow-same-origin', async () => {
    const served = createServer((req, res) => void handler(req, res, new URL(req.url ?? '/', base())));
    const base = () => `http://127.0.0.1:${(served.address() as AddressInfo).port}`;
    const handler = createConsole({
      baseUrl: base,
      functionKey: 'unused',
      mode: 'sandbox',
      registrations: { http: [], queues: [], timers: [], terminate: [], entry: {} },
      sandbox: undefined,
      scenario: 'healthy',
      deadLetters: undefined,
      log: () => undefined,
    });
    served.listen(0, '127.0.0.1');
    await once(served, 'listening');
    try {
      const response = await fetch(`${base()}/`);
      assert.equal(response.status, 200);
      const frames = [...(await response.text()).matchAll(/<iframe\b([^>]*)>/gi)].map((m) => m[1]!);
      assert.ok(
        frames.some((attributes) => /\bid="message-html"/.test(attributes)),
        'the page has its message frame',
      );
      for (const attributes of frames) {
        const sandbox = /\bsandbox(?:="([^"]*)")?/i.exec(attributes);
        assert.ok(sandbox, `a frame without a sandbox attribute: <iframe${attributes}>`);
        const tokens = (sandbox[1] ?? '').split(/\s+/).filter(Boolean);
        assert.deepEqual(
          tokens.filter((t) => /^allow-(scripts|same-origin)$/i.test(t)),
          [],
          `<iframe${attributes}>`,
        );
      }
    } finally {
      served.close();
    }
  });
});

describe("the console's delivery and suppression routes", () => {
  // the routes answer 409 (no storage) or 502/404 (no app) when the guard lets a call through:
  // what matters here is that another site's call never reaches them
  async function withConsole(check: (base: string) => Promise<void>): Promise<void> {
    // one server, as the local host's: /api is the app (here only GET /api/messages/{id}: a record it
    // does not have, answered only with the key), the rest the console
    const served = createServer((req, res) => {
      const url = new URL(req.url ?? '/', base());
      if (!url.pathname.startsWith('/api/')) return void handler(req, res, url);
      const keyed = req.headers['x-functions-key'] === 'local-key';
      res
        .writeHead(keyed ? 404 : 401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ code: keyed ? 'NOT_FOUND' : 'UNAUTHORIZED', message: 'no' }));
    });
    const base = () => `http://127.0.0.1:${(served.address() as AddressInfo).port}`;
    const handler = createConsole({
      baseUrl: base,
      functionKey: 'local-key',
      mode: 'sandbox',
      registrations: { http: [], queues: [], timers: [], terminate: [], entry: {} },
      sandbox: undefined,
      scenario: 'healthy',
      deadLetters: undefined,
      suppressions: undefined,
      log: () => undefined,
    });
    served.listen(0, '127.0.0.1');
    await once(served, 'listening');
    try {
      await check(base());
    } finally {
      served.close();
    }
  }
  // node:http, not fetch: fetch sends its own Host, and a rebound name must be said as DNS rebinding says it
  const call = (base: string, method: string, path: string, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const body = method === 'POST' ? '{"recipient":"ada@fabrikam.example"}' : undefined;
      const target = new URL(base);
      httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method,
          path: `/console/api/${path}`,
          headers: { host: target.host, ...headers, ...(body && { 'content-type': 'application/json' }) },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end(body);
    });

  const routes: [string, string][] = [
    ['GET', 'messages/abc'],
    ['GET', 'suppressions'],
    // a caller's policy and quota are the admin's: another site learns none of them
    ['GET', 'callers'],
    ['POST', 'suppressions'],
    ['DELETE', 'suppressions/ada%40fabrikam.example'],
  ];
  for (const [method, path] of routes) {
    it(`when another site calls ${method} ${path}, then it is refused before the route runs`, async () => {
      await withConsole(async (base) => {
        const origin = base;
        const ownHeaders = { origin, 'sec-fetch-site': 'same-origin', 'x-exosend-console': '1' };
        assert.equal(
          await call(base, method, path, ownHeaders),
          method === 'GET' && path.startsWith('messages/') ? 404 : 409,
          "the console's own call reaches its route (the app's 404, or 409 with no storage)",
        );
        assert.equal(
          await call(base, method, path, { ...ownHeaders, origin: 'https://evil.example' }),
          403,
          'another origin',
        );
        assert.equal(
          await call(base, method, path, { ...ownHeaders, 'sec-fetch-site': 'cross-site' }),
          403,
          'a cross-site fetch',
        );
        assert.equal(
          await call(base, method, path, { origin, 'sec-fetch-site': 'same-origin' }),
          403,
          'no console header',
        );
        assert.equal(
          await call(base, method, path, { ...ownHeaders, host: `rebound.example:${new URL(base).port}` }),
          403,
          'a rebound host name',
        );
        if (method !== 'GET')
          assert.equal(
            await call(base, method, path, { 'sec-fetch-site': 'same-origin', 'x-exosend-console': '1' }),
            403,
            'a change without an Origin',
          );
      });
    });
  }
});
