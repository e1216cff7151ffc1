import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { sandboxScenarios, type TelemetryEnvelope } from '../local/sandbox/index.js';
import { flush, shutdownTelemetry } from '../src/telemetry/telemetry.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { runObserved } from './observed.js';

const dist = resolve('dist', 'src');
// exosend's own ingestion client, and the packages that would be there if it were swapped back
const telemetryPackages =
  /([\\/]telemetry[\\/]telemetry-client\.js$)|(node_modules[\\/](applicationinsights|@azure[\\/]monitor-opentelemetry[^\\/]*)[\\/])/;

/**
 * Every module a fresh Node process loaded: what CommonJS cached (applicationinsights is CommonJS,
 * so however it is reached it lands there) and every URL the ESM loader resolved (through a resolve
 * hook, for the ESM builds of @azure/monitor-opentelemetry*).
 */
async function modulesLoadedBy(
  dir: string,
  target: string,
  action: 'import' | 'use telemetry',
  env: Record<string, string>,
) {
  const log = join(dir, `${Math.random().toString(36).slice(2)}.log`);
  await writeFile(log, '');
  const { code, stdout, stderr } = await runObserved(
    'app-child',
    process.execPath,
    ['--import', pathToFileURL(join(dir, 'register.mjs')).href, join(dir, 'child.mjs'), target, action],
    {
      env: { ...process.env, ...env, MODULE_LOG: log },
    },
  );
  assert.equal(code, 0, stderr);
  const cached = JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as string[];
  return [...cached, ...(await readFile(log, 'utf8')).split('\n').filter(Boolean)];
}

describe('telemetry loads lazily', () => {
  let dir: string;
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
    dir = await mkdtemp(join(tmpdir(), 'exosend-modules-'));
    await writeFile(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module';
register(new URL('./hooks.mjs', import.meta.url), { data: { log: process.env.MODULE_LOG } });
`,
    );
    await writeFile(
      join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
let log;
export async function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(log, resolved.url + '\\n');
  return resolved;
}
`,
    );
    await writeFile(
      join(dir, 'child.mjs'),
      `import { createRequire } from 'node:module';
const [target, action] = process.argv.slice(2);
await import(target);
if (action === 'use telemetry') {
  const telemetry = await import(${JSON.stringify(pathToFileURL(join(dist, 'telemetry', 'telemetry.js')).href)});
  telemetry.trackEvent('exosend.module-test', { id: 'm1' });
  await telemetry.flush();
  await telemetry.shutdownTelemetry();
}
console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));
`,
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await h.close();
  });

  const withTelemetry = () => ({ APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString });

  // the HTTP send function alone, and the entry the host loads (every trigger, GET /api/health included)
  for (const module of ['functions/send.js', 'index.js']) {
    it(`when ${module} is imported with telemetry on, then no telemetry package is loaded`, async () => {
      const loaded = await modulesLoadedBy(dir, pathToFileURL(join(dist, module)).href, 'import', withTelemetry());
      assert.ok(
        loaded.some((m) => m.includes('@azure') && m.includes('functions')),
        'the probe saw the module graph',
      );
      assert.deepEqual(
        loaded.filter((m) => telemetryPackages.test(m)),
        [],
      );
    });
  }

  it('when the facade is used with a connection string, then the client is loaded and the event arrives', async () => {
    h.sandbox.appInsights.clear();
    const loaded = await modulesLoadedBy(
      dir,
      pathToFileURL(join(dist, 'functions', 'send.js')).href,
      'use telemetry',
      withTelemetry(),
    );
    assert.ok(
      loaded.some((m) => /[\\/]telemetry[\\/]telemetry-client\.js$/.test(m)),
      'the telemetry client was loaded',
    );
    assert.deepEqual(
      h.sandbox.appInsights.ofType('EventData').map((e) => e.data?.baseData.name),
      ['exosend.module-test'],
    );
  });

  it('when no connection string is set, then using the facade loads nothing and sends nothing', async () => {
    h.sandbox.appInsights.clear();
    const loaded = await modulesLoadedBy(dir, pathToFileURL(join(dist, 'functions', 'send.js')).href, 'use telemetry', {
      APPLICATIONINSIGHTS_CONNECTION_STRING: '',
    });
    assert.deepEqual(
      loaded.filter((m) => telemetryPackages.test(m)),
      [],
    );
    assert.equal(h.sandbox.appInsights.envelopes.length, 0);
  });
});

describe('send events', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(async () => {
    await shutdownTelemetry();
    await h.close();
  });
  beforeEach(() => {
    sandboxScenarios.healthy(h.sandbox);
    h.restartApp({ APPLICATIONINSIGHTS_CONNECTION_STRING: h.sandbox.appInsights.connectionString });
    h.sandbox.appInsights.clear();
    h.logs.length = 0;
  });

  const body = 'The report is attached, figures inside.';
  const events = (name: string) =>
    h.sandbox.appInsights
      .ofType('EventData')
      .filter((e: TelemetryEnvelope) => e.data?.baseData.name === name)
      .map((e) => e.data!.baseData);

  function assertNothingSecret() {
    const said = [...h.sandbox.appInsights.bodies, ...h.logs].join('\n');
    for (const secret of h.sandbox.knownSecrets())
      assert.ok(!said.includes(secret), 'a secret or a token reached telemetry or the log');
    assert.ok(!said.includes(body), 'the message body reached telemetry or the log');
    assert.ok(!said.includes('ada@fabrikam.example'), 'a recipient reached telemetry or the log');
  }

  it('when a send succeeds, then an exosend.sent event carries its id, Message-ID and duration', async () => {
    const reply = await h.send(mailRequest({ text: body }));
    await flush();

    assert.equal(reply.status, 200);
    const [sent, ...more] = events('exosend.sent');
    assert.equal(more.length, 0);
    assert.equal(sent?.properties.id, reply.body.id);
    assert.equal(sent?.properties.trigger, 'http');
    assert.equal(sent?.properties.messageId, reply.body.messageId);
    assert.equal(typeof sent?.measurements.durationMs, 'number');
    assertNothingSecret();
  });

  it('when Exchange refuses for good, then an exosend.failed event carries the diagnosis code and stage', async () => {
    sandboxScenarios['mailbox-full'](h.sandbox);
    const reply = await h.send(mailRequest({ text: body }));
    await flush();

    assert.equal(reply.status, 502);
    const [failed] = events('exosend.failed');
    assert.equal(failed?.properties.code, 'MAILBOX_FULL');
    assert.equal(failed?.properties.stage, 'send');
    assert.equal(failed?.measurements.attempts, 1);
    assertNothingSecret();
  });

  it('when a try fails for a while and the next succeeds, then a retry is logged and tracked with the code before the send', async () => {
    h.sandbox.exchange.failNext('mail', '451 4.7.0 Temporary server error. Please try again later. PRX4');
    const reply = await h.send(mailRequest({ text: body }));
    await flush();

    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const [retry] = events('exosend.retry');
    assert.equal(retry?.properties.id, reply.body.id);
    assert.equal(retry?.properties.code, 'TEMPORARY_FAILURE');
    assert.equal(retry?.measurements.attempts, 1);
    assert.equal(events('exosend.sent').length, 1);
    const line = h.logs.map((l) => JSON.parse(l)).find((l) => l.event === 'exosend.retry');
    // every log line names its caller (issue 22): here the function-key callers' default policy
    assert.deepEqual(line, {
      event: 'exosend.retry',
      caller: 'function-key',
      callerName: 'function key',
      id: reply.body.id,
      code: 'TEMPORARY_FAILURE',
      attempt: 2,
    });
    assertNothingSecret();
  });
});
