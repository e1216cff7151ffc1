import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { curlRequest } from './npm-start.js';
import { spawnObserved } from './observed.js';

// Debian's chromium (.ci/run installs it); EXOSEND_CHROMIUM names another build
const chromiumPath = process.env['EXOSEND_CHROMIUM'] ?? '/usr/bin/chromium';
const skip = existsSync(chromiumPath)
  ? false
  : `no Chromium at ${chromiumPath} (apt-get install chromium, or set EXOSEND_CHROMIUM): the console is not tested in a browser here`;
const screenshots = join('.exosend', 'screenshots');

interface LocalHost {
  child: ChildProcess;
  output: () => string;
  baseUrl: string;
  key: string;
  consoleUrl: string;
  /** The banner's curl line with the sample caller's bearer token. */
  bearerCurl: string;
}

/** The local host as `npm start` runs it once built (npm test has built it), in a process group of its own. */
async function startLocalHost(stateDir: string): Promise<LocalHost> {
  const child = spawnObserved('npm-start', process.execPath, ['dist/local/host/main.js', '--sandbox'], {
    // the bounce reader every two seconds, not five minutes: a bounce shows in the console within the test
    env: { ...process.env, EXOSEND_PORT: '0', EXOSEND_STATE_DIR: stateDir, EXOSEND_DELIVERY_SCHEDULE: '*/2 * * * * *' },
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while (!/Ctrl-C stops everything/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the local host did not come up:\n${output}`);
    await sleep(100);
  }
  const field = (pattern: RegExp) => pattern.exec(output)?.[1] ?? assert.fail(`banner lacks ${pattern}:\n${output}`);
  return {
    child,
    output: () => output,
    baseUrl: field(/Listening on (http:\/\/\S+)/),
    key: field(/Function key: (\S+)/),
    consoleUrl: field(/Console: (http:\/\/\S+)/),
    bearerCurl: field(/^ +(curl .*-H "Authorization: Bearer .*)$/m),
  };
}

describe('the local console, in a real browser', { skip }, () => {
  let host: LocalHost;
  let browser: Browser;
  let page: Page;
  let stateDir: string;
  const consoleLines: string[] = [];
  // a "remote" server on another loopback port: any request it sees came from a message's HTML
  const remote = createServer((req, res) => {
    remoteHits.push(req.url ?? '');
    res.writeHead(404).end();
  });
  const remoteHits: string[] = [];

  const api = (route: string, body: unknown) =>
    fetch(`${host.baseUrl}/api/${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': host.key },
      body: JSON.stringify(body),
    });
  const shot = (name: string) => page.screenshot({ path: join(screenshots, `console-${name}.png`), fullPage: true });

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'exosend-console-'));
    mkdirSync(screenshots, { recursive: true });
    remote.listen(0, '127.0.0.1');
    await once(remote, 'listening');
    // both settle before a failure is thrown, so that after() stops the one that did start
    const [started, launched] = await Promise.allSettled([
      startLocalHost(stateDir),
      // as root (CI) Chromium's own sandbox cannot start; the page's frame sandbox is Blink's and stays on
      chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] }),
    ]);
    if (started.status === 'fulfilled') host = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    for (const result of [started, launched]) if (result.status === 'rejected') throw result.reason;
    page = await browser.newPage({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
    page.on('console', (message) => consoleLines.push(message.text()));
  });

  after(async () => {
    await browser?.close();
    remote.close();
    if (host && host.child.exitCode === null) {
      const exited = once(host.child, 'exit');
      process.kill(-host.child.pid!, 'SIGINT');
      await Promise.race([exited, sleep(10_000).then(() => process.kill(-host.child.pid!, 'SIGKILL'))]);
    }
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('when the banner is read, then it names the console on the loopback address', () => {
    assert.equal(host.consoleUrl, `${host.baseUrl}/`);
  });

  it('when mail is sent through the API, then it appears in the outbox without a reload, and opens rendered, scripts dead, attachment downloadable', async () => {
    await page.goto(host.consoleUrl);
    await page.getByText('No mail yet: try the curl line in the terminal').waitFor();
    await shot('outbox-empty');

    const attachment = 'quarterly figures\n';
    const sent = await api('send', {
      to: ['ada@fabrikam.example'],
      cc: ['grace@fabrikam.example'],
      bcc: ['audit@contoso.example'],
      subject: 'Quarterly report',
      text: 'The report is attached.',
      html:
        '<h1 id="greeting" style="color:#0f62fe">Quarterly report</h1><p>The report is attached.</p>' +
        "<script>console.log('exosend-script-ran'); document.getElementById('greeting').textContent = 'scripted';</script>" +
        `<img id="remote" src="http://127.0.0.1:${(remote.address() as AddressInfo).port}/remote-image.png" alt="remote image">` +
        `<link rel="stylesheet" href="http://127.0.0.1:${(remote.address() as AddressInfo).port}/remote.css">`,
      attachments: [
        {
          filename: 'figures.txt',
          contentType: 'text/plain',
          contentBase64: Buffer.from(attachment).toString('base64'),
        },
      ],
    });
    assert.equal(sent.status, 200, await sent.clone().text());

    const row = page.locator('#outbox-rows tr', { hasText: 'Quarterly report' });
    await row.waitFor();
    assert.deepEqual(
      await row
        .locator('td')
        .allInnerTexts()
        .then((cells) => cells.slice(1, 7)),
      [
        'function key',
        'exosend@contoso.example',
        'ada@fabrikam.example',
        'grace@fabrikam.example',
        'audit@contoso.example',
        'Quarterly report',
      ],
    );
    await shot('outbox');

    await row.click();
    const greeting = page.frameLocator('#message-html').locator('#greeting');
    await greeting.waitFor();
    assert.equal(
      await greeting.innerText(),
      'Quarterly report',
      'the HTML part is rendered, and its script did not rewrite it',
    );
    assert.equal(await page.locator('#message-subject').innerText(), 'Quarterly report');
    await shot('message');
    assert.ok(!consoleLines.includes('exosend-script-ran'), 'the script in the message ran');
    assert.deepEqual(remoteHits, [], 'the message loaded something from the network');

    await page.getByRole('tab', { name: /Text/ }).click();
    assert.match(await page.locator('#part-text').innerText(), /The report is attached\./);
    await page.getByRole('tab', { name: /Headers/ }).click();
    assert.equal(
      await page
        .locator('#part-headers tr', { hasText: /^Subject/ })
        .locator('td')
        .nth(1)
        .innerText(),
      'Quarterly report',
    );
    await page.getByRole('tab', { name: /Attachments/ }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'figures.txt' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'figures.txt');
    assert.equal(readFileSync(await download.path(), 'utf8'), attachment);
  });

  it("when the banner's sample caller sends with its bearer token, then the Outbox names it, and the Callers view shows each policy and what is left of its day, down to 0 once its quota is spent", async () => {
    const { url, init } = curlRequest(host.bearerCurl);
    const { appid } = JSON.parse(
      Buffer.from(/Bearer [^.]+\.([^.]+)\./.exec(host.bearerCurl)![1]!, 'base64url').toString(),
    ) as { appid: string };
    const sent = await fetch(url, {
      ...init,
      body: JSON.stringify({ to: ['ada@fabrikam.example', 'grace@fabrikam.example'], subject: 'From erp', text: 't' }),
    });
    assert.equal(sent.status, 200, await sent.clone().text());

    await page.goto(`${host.consoleUrl}#outbox`);
    const row = page.locator('#outbox-rows tr', { hasText: 'From erp' });
    await row.waitFor();
    assert.equal(await row.locator('td').nth(1).innerText(), `erp\n${appid}`);

    await page.goto(`${host.consoleUrl}#callers`);
    const erp = page.locator(`#callers-rows tr[data-app-id="${appid}"]`);
    await erp.waitFor();
    assert.match(await erp.innerText(), /exosend@contoso\.example, billing@contoso\.example/);
    assert.equal(await erp.locator('[data-field="left"]').innerText(), '1998', 'its 2000 a day, less its 2 recipients');
    assert.match(await erp.locator('[data-field="minute"]').innerText(), /^1 of its \d+ \(of 30 in 60 s\)$/);
    assert.match(
      await page.locator('#callers-rows tr', { hasText: 'reports' }).innerText(),
      /\*@fabrikam\.example[\s\S]*\b500\b/,
      'a caller that sent nothing has its whole day',
    );
    await page.locator('#callers-rows tr', { hasText: 'default policy' }).waitFor();
    await shot('callers');

    await page.goto(`${host.consoleUrl}#health`);
    await page.locator('#scenario').selectOption('caller-over-quota');
    await page.getByRole('button', { name: 'Switch' }).click();
    await page.locator('#health-summary').getByText('scenario: caller-over-quota').waitFor();
    const refused = await fetch(url, init);
    assert.equal(refused.status, 429, await refused.clone().text());
    await page.goto(`${host.consoleUrl}#callers`);
    await page
      .locator(`#callers-rows tr[data-app-id="${appid}"] [data-field="left"].spent`, { hasText: '0' })
      .waitFor();
    await shot('callers-over-quota');
    await page.goto(`${host.consoleUrl}#health`);
    await page.locator('#scenario').selectOption('healthy');
    await page.getByRole('button', { name: 'Switch' }).click();
    await page.locator('#health-summary').getByText('scenario: healthy').waitFor();
  });

  it("when the message's HTML arrives without its Content-Security-Policy, then the frame's sandbox attribute alone still keeps its script from running", async () => {
    // Regression (surviving mutant): the frame's `sandbox` attribute could be removed and no test saw
    // it, since the CSP's own sandbox directive blocks scripts too. Each layer is tested on its own.
    const stripped: string[] = [];
    await page.route('**/console/message/*/html', async (route) => {
      const response = await route.fetch();
      const headers = Object.fromEntries(
        Object.entries(response.headers()).filter(
          ([name]) => name !== 'content-security-policy' && name !== 'x-frame-options',
        ),
      );
      stripped.push(response.headers()['content-security-policy'] ?? '(none)');
      await route.fulfill({ response, headers });
    });
    try {
      const sent = await api('send', {
        to: ['ada@fabrikam.example'],
        subject: 'Frame without its policy',
        text: 't',
        html:
          '<h1 id="greeting">Frame without its policy</h1>' +
          "<script>console.log('exosend-frame-script-ran'); document.getElementById('greeting').textContent = 'scripted'; try { parent.document.title = 'framed-script-ran'; } catch {}</script>",
      });
      assert.equal(sent.status, 200, await sent.clone().text());
      await page.goto(`${host.consoleUrl}#outbox`);
      await page.locator('#outbox-rows tr', { hasText: 'Frame without its policy' }).click();
      const greeting = page.frameLocator('#message-html').locator('#greeting');
      await greeting.waitFor();
      assert.match(stripped[0] ?? '', /sandbox/, 'the policy that was stripped held a sandbox directive of its own');
      await sleep(200);
      assert.equal(await greeting.innerText(), 'Frame without its policy', 'the script in the frame ran');
      assert.ok(!consoleLines.includes('exosend-frame-script-ran'), 'the script in the frame ran');
      assert.notEqual(await page.title(), 'framed-script-ran');
    } finally {
      await page.unroute('**/console/message/*/html');
    }
  });

  it('when a scenario is switched on the Health tab, then the check shows the failure and its diagnosis', async () => {
    await page.goto(`${host.consoleUrl}#health`);
    await page.locator('#scenario').selectOption('missing-role');
    await page.getByRole('button', { name: 'Switch' }).click();
    const lastCheck = page.locator('#last-check');
    await lastCheck.getByText('TOKEN_ROLE_MISSING').waitFor();
    assert.match(await lastCheck.innerText(), /failed at claims/);
    assert.match(await lastCheck.innerText(), /SMTP\.SendAsApp/);
    assert.match(await page.locator('#health-summary').innerText(), /unhealthy/);
    await shot('health');
  });

  it('when a queued message is dead-lettered and the cause is fixed, then it can be put back and is sent', async () => {
    await page.locator('#scenario').selectOption('send-as-denied');
    await page.getByRole('button', { name: 'Switch' }).click();
    await page.locator('#health-summary').getByText('scenario: send-as-denied').waitFor();
    const queued = await api('enqueue', {
      from: 'billing@contoso.example',
      to: ['ada@fabrikam.example'],
      subject: 'Invoice 42',
      text: 'Attached.',
    });
    assert.equal(queued.status, 202);

    await page.goto(`${host.consoleUrl}#dead-letters`);
    const letter = page.locator('.letter', { hasText: 'Invoice 42' });
    await letter.waitFor({ timeout: 15_000 });
    assert.match(await letter.innerText(), /SEND_AS_DENIED/);
    assert.match(await letter.innerText(), /Add-RecipientPermission/);
    await shot('dead-letters');

    await page.goto(`${host.consoleUrl}#health`);
    await page.locator('#scenario').selectOption('healthy');
    await page.getByRole('button', { name: 'Switch' }).click();
    await page.locator('#health-summary').getByText('scenario: healthy').waitFor();
    await page.goto(`${host.consoleUrl}#dead-letters`);
    await page
      .locator('.letter', { hasText: 'Invoice 42' })
      .getByRole('button', { name: 'Put back on the intake queue' })
      .click();
    await page.locator('#dead-status', { hasText: 'Back on the queue' }).waitFor();
    await shot('dead-letters-put-back');
    await page.goto(`${host.consoleUrl}#outbox`);
    await page.locator('#outbox-rows tr', { hasText: 'Invoice 42' }).waitFor({ timeout: 15_000 });
  });

  it('when the Send form is submitted, then the answer is shown, and a refusal names the field', async () => {
    await page.goto(`${host.consoleUrl}#send`);
    await page.getByLabel('Subject').fill('From the form');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('#send-status', { hasText: '200' }).waitFor();
    assert.match(await page.locator('#send-body').innerText(), /"messageId"/);
    await page.getByLabel(/^To/).fill('ada@fabrikam.example, not-an-address');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('#send-status', { hasText: '400' }).waitFor();
    assert.match(await page.locator('#send-diagnosis').innerText(), /to\[1\]/);
    await shot('send');
  });

  it("when mail goes to a good and a non-existent address, then the Outbox's Delivery column and the message view show each recipient's fate as the app answers it", async () => {
    const sent = await api('send', {
      to: ['ada@fabrikam.example', 'nobody@fabrikam.example'],
      subject: 'Delivery per recipient',
      text: 't',
    });
    assert.equal(sent.status, 200, await sent.clone().text());
    const { id } = (await sent.json()) as { id: string };
    await page.goto(`${host.consoleUrl}#outbox`);
    const row = page.locator('#outbox-rows tr', { hasText: 'Delivery per recipient' });
    await row.locator('.status[data-recipient="ada@fabrikam.example"]').waitFor();
    // the bounce comes back through the sending mailbox's inbox; the reader runs every two seconds here
    await row
      .locator('.status[data-recipient="nobody@fabrikam.example"]', { hasText: 'failed' })
      .waitFor({ timeout: 30_000 });
    const app = (await (
      await fetch(`${host.baseUrl}/api/messages/${encodeURIComponent(id)}`, {
        headers: { 'x-functions-key': host.key },
      })
    ).json()) as {
      delivery: { recipients: { recipient: string; status: string; statusCode?: string; source: string }[] };
    };
    const shown = await row.locator('.status').allInnerTexts();
    assert.deepEqual(
      shown,
      app.delivery.recipients.map((r) => `${r.recipient}: ${r.status}`),
      'the column says what GET /api/messages/{id} says',
    );
    assert.equal(
      app.delivery.recipients.find((r) => r.recipient === 'ada@fabrikam.example')?.status,
      'pending',
      'no news is not delivered',
    );
    await shot('outbox-delivery');

    await row.click();
    const bounced = page.locator('#delivery-table tr[data-recipient="nobody@fabrikam.example"]');
    await bounced.waitFor();
    const cells = await bounced.locator('td').allInnerTexts();
    const nobody = app.delivery.recipients.find((r) => r.recipient === 'nobody@fabrikam.example')!;
    assert.deepEqual(
      [cells[0], cells[1], cells[2], cells[5]],
      ['nobody@fabrikam.example', 'failed', nobody.statusCode, nobody.source],
    );
    assert.equal(nobody.statusCode, '5.1.10');
    assert.match(cells[3] ?? '', /\S/, 'the diagnosis is shown');
    assert.equal(
      await page.locator('#delivery-table tr[data-recipient="ada@fabrikam.example"] td').nth(1).innerText(),
      'pending',
    );
    await shot('message-delivery');
  });

  it('when the admin adds a suppression and removes it on the Suppressions tab, then the shared list and the next send follow', async () => {
    await page.goto(`${host.consoleUrl}#suppressions`);
    await page.getByLabel('Address').fill('grace@fabrikam.example');
    await page.getByLabel(/^Reason/).fill('asked to stop');
    await page.getByRole('button', { name: 'Suppress' }).click();
    const row = page.locator('#suppression-rows tr[data-recipient="grace@fabrikam.example"]');
    await row.waitFor();
    assert.match(await row.innerText(), /ADDED_BY_ADMIN: asked to stop/);
    // the bounce of the test before put nobody@ here on its own
    await page.locator('#suppression-rows tr[data-recipient="nobody@fabrikam.example"]').waitFor();
    await shot('suppressions');
    const refused = await (
      await api('send', {
        to: ['grace@fabrikam.example', 'ada@fabrikam.example'],
        subject: 'While suppressed',
        text: 't',
      })
    ).text();
    assert.match(refused, /RECIPIENT_SUPPRESSED/, 'the app refuses the suppressed address');

    await row.getByRole('button', { name: 'Remove' }).click();
    await page.locator('#suppression-status', { hasText: 'grace@fabrikam.example is no longer suppressed' }).waitFor();
    await row.waitFor({ state: 'detached' });
    const again = await api('send', { to: ['grace@fabrikam.example'], subject: 'After removal', text: 't' });
    assert.equal(again.status, 200, await again.clone().text());
    assert.doesNotMatch(await again.text(), /RECIPIENT_SUPPRESSED/);
  });

  it('when another site, or another host name, calls the console, then it is refused and nothing changes', async () => {
    const port = Number(new URL(host.baseUrl).port);
    // a page on another origin (another loopback port) tries to read the console and to switch the scenario
    const evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<form id="f" method="POST" action="${host.baseUrl}/console/api/scenario" enctype="text/plain"><input name='{"name":"missing-role","x":"' value='"}'></form>
        <script>fetch('${host.baseUrl}/console/api/session').then(r => r.text()).then(t => console.log('evil-read:' + t), e => console.log('evil-blocked'));</script>`);
    });
    evil.listen(0, '127.0.0.1');
    await once(evil, 'listening');
    try {
      const other = await browser.newPage();
      const lines: string[] = [];
      other.on('console', (m) => lines.push(m.text()));
      await other.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      await other.waitForFunction(() => true);
      const posted = other.waitForResponse((r) => r.url().endsWith('/console/api/scenario'));
      await other.locator('#f').evaluate((form) => (form as unknown as { submit(): void }).submit());
      assert.equal((await posted).status(), 403);
      await sleep(200);
      assert.ok(!lines.some((l) => l.startsWith('evil-read:')), 'another site read the console');
      await other.close();
    } finally {
      evil.close();
    }
    const session = (await page.evaluate(() =>
      fetch('/console/api/session', { headers: { 'x-exosend-console': '1' } }).then((r) => r.json()),
    )) as { scenario: string };
    assert.equal(session.scenario, 'healthy', 'the cross-site POST switched the scenario');

    // DNS rebinding: a name that resolves to 127.0.0.1 arrives with its own Host
    const status = await new Promise<number>((resolve, reject) =>
      httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/console/api/session',
          headers: { host: `rebound.example:${port}`, 'x-exosend-console': '1' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end(),
    );
    assert.equal(status, 403);

    // what the console's own calls carry: the local function key, never a token or the client secret
    for (const path of ['session', 'outbox', 'dead-letters', 'health', 'suppressions', 'callers']) {
      const body = await page.evaluate(
        (p) => fetch(`/console/api/${p}`, { headers: { 'x-exosend-console': '1' } }).then((r) => r.text()),
        path,
      );
      assert.doesNotMatch(body, /eyJ[\w-]+\.[\w-]+\.[\w-]*/, `${path} holds a JWT`);
      assert.doesNotMatch(body, /client_secret|8Q~/, `${path} holds a client secret`);
    }
    assert.deepEqual(
      host
        .output()
        .split('\n')
        .filter((line) => /eyJ[\w-]+\.[\w-]+\.[\w-]*/.test(line)),
      [`  ${host.bearerCurl}`],
      "the local host printed a token other than the banner's bearer curl line",
    );
  });
});
