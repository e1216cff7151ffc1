import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { QueueServiceClient } from '@azure/storage-queue';
import { decodeJwt } from 'jose';
import { simpleParser } from 'mailparser';
import { sampleTokenLifetimeSeconds } from '../local/sandbox/caller-apps.js';
import { sandboxScenarios } from '../local/sandbox/index.js';
import { sendRole } from '../src/config/caller-auth.js';
import { cleanUpStarts, ctrlC, curlRequest, npmStart, type Started } from './npm-start.js';
import { runObserved } from './observed.js';

/** `key: null` sends no function key at all. */
const post = (started: Started, route: string, body: unknown, key: string | null = started.key) =>
  fetch(`${started.baseUrl}/api/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key !== null && { 'x-functions-key': key }) },
    body: JSON.stringify(body),
  });

async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutInMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The banner's bearer curl line, sent as printed. */
const sendAsBannerCaller = (started: Started) => {
  const { url, init } = curlRequest(started.bearerCurl ?? assert.fail(`no bearer curl line:\n${started.output()}`));
  return fetch(url, init);
};

/** The console's own call (its guard asks for the page's origin and header), as its Health tab switches a scenario. */
const switchScenario = async (started: Started, name: string) => {
  const response = await fetch(`${started.baseUrl}/console/api/scenario`, {
    method: 'POST',
    headers: {
      origin: started.baseUrl,
      'sec-fetch-site': 'same-origin',
      'x-exosend-console': '1',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ name }),
  });
  assert.equal(response.status, 200, await response.text());
};

const outbox = (started: Started) => {
  try {
    return readdirSync(join(started.stateDir, 'outbox')).filter((f) => f.endsWith('.eml'));
  } catch {
    return [];
  }
};

describe('npm start', () => {
  after(cleanUpStarts);

  it('when the README quick start is followed, then it is exactly npm install, npm start and npm test', () => {
    const readme = readFileSync('README.md', 'utf8');
    const quickStart = /```(?:sh|bash)?\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split('\n');
    assert.deepEqual(quickStart, ['npm install', 'npm start', 'npm test']);
  });

  it('when a developer sends, enqueues and stops, then mail lands in the outbox, bad queue messages are dead-lettered, the timer ticks, and nothing is left running', async () => {
    // the health timer on its own schedule, brought forward so that it ticks during the test
    const started = await npmStart([], { EXOSEND_HEALTH_SCHEDULE: '*/2 * * * * *' });
    assert.match(started.output(), /running in sandbox mode/);
    assert.match(started.output(), /health\s+timer \*\/2 \* \* \* \* \*/);
    const port = Number(new URL(started.baseUrl).port);

    const unauthorised = await post(started, 'send', { to: ['ada@fabrikam.example'], subject: 'x', text: 'y' }, null);
    assert.equal(unauthorised.status, 401);
    // Regression: a key of the right length in characters but not in bytes, and a bad percent-escape,
    // crashed the request into a 500
    const wideKey = 'é'.repeat(started.key.length);
    assert.equal((await fetch(`${started.baseUrl}/api/messages/x?code=${encodeURIComponent(wideKey)}`)).status, 401);
    assert.equal((await fetch(`${started.baseUrl}/api/messages/%E0%A4%A?code=${started.key}`)).status, 400);

    const sent = await post(started, 'send', {
      to: ['ada@fabrikam.example'],
      subject: 'Hello from exosend',
      text: 'It works.',
      html: '<p>It works.</p>',
    });
    assert.equal(sent.status, 200, await sent.clone().text());
    const { messageId } = (await sent.json()) as { messageId: string };
    const [eml] = await waitFor(() => (outbox(started).length === 1 ? outbox(started) : undefined), 'the .eml');
    const mime = await simpleParser(readFileSync(join(started.stateDir, 'outbox', eml!)));
    assert.equal(mime.subject, 'Hello from exosend');
    assert.equal(mime.messageId, messageId);
    assert.equal(mime.to && !Array.isArray(mime.to) ? mime.to.value[0]?.address : undefined, 'ada@fabrikam.example');
    assert.equal(mime.text?.trim(), 'It works.');

    // the second curl line: the sandbox's sample caller with its own Entra token, under its own policy
    const claims = decodeJwt(/Bearer (\S+)"/.exec(started.bearerCurl ?? '')?.[1] ?? '');
    const { Values } = JSON.parse(readFileSync(join(started.stateDir, 'sandbox.settings.json'), 'utf8')) as {
      Values: Record<string, string>;
    };
    assert.ok(Values['EXOSEND_API_AUDIENCE']!.split(',').includes(String(claims.aud)), 'a token for the API');
    assert.deepEqual(claims.roles, [sendRole]);
    assert.match(started.output(), new RegExp(`sample caller erp \\(app ${String(claims['appid'])}\\)`));
    assert.ok(claims.exp! - Date.now() / 1000 > sampleTokenLifetimeSeconds - 60, 'it lasts a working session');
    const asCaller = await sendAsBannerCaller(started);
    assert.equal(asCaller.status, 200, await asCaller.clone().text());
    const { id: callerMessage } = (await asCaller.json()) as { id: string };
    await waitFor(() => (outbox(started).length === 2 ? true : undefined), "the sample caller's message in the outbox");
    const record = await fetch(`${started.baseUrl}/api/messages/${callerMessage}`, {
      headers: {
        authorization: (curlRequest(started.bearerCurl!).init.headers as Record<string, string>)['authorization']!,
      },
    });
    assert.equal(record.status, 200, 'the caller reads its own record');
    assert.equal(
      (await fetch(`${started.baseUrl}/api/messages/${callerMessage}`, { headers: { 'x-functions-key': started.key } }))
        .status,
      404,
      "the function key does not read the sample caller's record",
    );

    const queues = QueueServiceClient.fromConnectionString(started.storage);
    const intake = queues.getQueueClient('outbound-mail');
    const request = { to: ['grace@fabrikam.example'], subject: 'Through the local queue', text: 'Queued.' };
    await intake.sendMessage(Buffer.from(JSON.stringify(request)).toString('base64'));
    await intake.sendMessage('not base64 and not JSON');
    await waitFor(() => (outbox(started).length === 3 ? true : undefined), 'the queued message in the outbox');
    const letters = await waitFor(async () => {
      const { receivedMessageItems } = await queues.getQueueClient('outbound-mail-poison').receiveMessages();
      return receivedMessageItems.length ? receivedMessageItems : undefined;
    }, 'a dead letter');
    const letter = JSON.parse(Buffer.from(letters[0]!.messageText, 'base64').toString()) as {
      code: string;
      original: string;
    };
    assert.equal(letter.code, 'UNDECODABLE');
    assert.equal(letter.original, 'not base64 and not JSON');

    await waitFor(
      () => (/\[health\] .*"event":"exosend\.check".*"ok":true/.test(started.output()) ? true : undefined),
      'a health check by the timer',
    );

    await ctrlC(started);
    assert.match(started.output(), /Stopped\./);
    const refused = (p: number, what: string) =>
      assert.rejects(
        new Promise((resolve, reject) => connect(p, '127.0.0.1').on('connect', resolve).on('error', reject)),
        /ECONNREFUSED/,
        what,
      );
    await refused(port, 'no listener is left on the HTTP port');
    // Azurite runs in a process group of its own (Ctrl-C must not stop it under deliveries): stopped all the same
    await refused(Number(/QueueEndpoint=http:\/\/127\.0\.0\.1:(\d+)/.exec(started.storage)?.[1]), 'Azurite is stopped');
    assert.throws(() => process.kill(-started.child.pid!, 0), { code: 'ESRCH' }, 'no process of the group is left');
  });

  it('when asked for help, then every sandbox scenario is listed with what it reproduces, one line each', async () => {
    const help = await runObserved('npm-start', process.execPath, ['dist/local/host/main.js', '--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const [name, { description }] of Object.entries(sandboxScenarios)) {
      assert.match(
        help.stdout,
        new RegExp(`^  ${name} +${description.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
        name,
      );
    }
  });

  it('when started with --scenario caller-over-quota and switched to caller-not-registered, then the bearer curl line gets 429 with Retry-After, then 403 naming exosend caller add, while the function key still sends', async () => {
    const started = await npmStart(['--scenario', 'caller-over-quota']);
    try {
      const overQuota = await sendAsBannerCaller(started);
      assert.equal(overQuota.status, 429, await overQuota.clone().text());
      assert.ok(Number(overQuota.headers.get('retry-after')) > 3600, 'Retry-After: when its own day has room');
      const spent = (await overQuota.json()) as { error: { diagnosis: { code: string } } };
      assert.equal(spent.error.diagnosis.code, 'CALLER_DAILY_QUOTA_REACHED');
      const others = await post(started, 'send', { to: ['ada@fabrikam.example'], subject: 'x', text: 'y' });
      assert.equal(others.status, 200, 'the function key is another caller, and keeps sending');

      await switchScenario(started, 'caller-not-registered');
      const unregistered = await sendAsBannerCaller(started);
      assert.equal(unregistered.status, 403, await unregistered.clone().text());
      const refused = (await unregistered.json()) as { error: { code: string; message: string } };
      assert.equal(refused.error.code, 'CALLER_NOT_REGISTERED');
      assert.match(refused.error.message, /`npx exosend caller add [0-9a-f-]{36} --name/);

      await switchScenario(started, 'healthy');
      const healthy = await sendAsBannerCaller(started);
      assert.equal(healthy.status, 200, await healthy.clone().text());
      await waitFor(() => (outbox(started).length === 2 ? true : undefined), 'the two accepted sends in the outbox');
      await sleep(500);
      assert.equal(outbox(started).length, 2, 'only the two accepted sends reached Exchange');
    } finally {
      await ctrlC(started);
    }
  });

  it('when started with --scenario send-as-denied, then /api/send answers with the SEND_AS_DENIED diagnosis', async () => {
    const started = await npmStart(['--scenario', 'send-as-denied']);
    try {
      assert.match(started.output(), /sandbox \(scenario: send-as-denied\)/);
      const reply = await post(started, 'send', {
        from: 'billing@contoso.example',
        to: ['ada@fabrikam.example'],
        subject: 'x',
        text: 'y',
      });
      assert.equal(reply.status, 502);
      const body = (await reply.json()) as { error: { code: string; diagnosis: { fix: string } } };
      assert.equal(body.error.code, 'SEND_AS_DENIED');
      assert.match(body.error.diagnosis.fix, /Add-RecipientPermission/);
    } finally {
      await ctrlC(started);
    }
  });
});
