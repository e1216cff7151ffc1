import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanUpStarts, ctrlC, npmStart, type Started } from './npm-start.js';
import { runObserved, type ObservedRun } from './observed.js';

// The doctor as a newcomer meets it: `npm start -- --scenario NAME`, then the one command the banner
// prints, run by a shell exactly as printed. Each `npm start` here has a state directory of its own,
// so its stand-ins' CA is not the one this test process trusts (scripts/test.mjs): the doctor
// passes only if it trusts the sandbox's CA by itself.

const jwtShaped = /eyJ[\w-]+\.[\w-]+\./;

interface Report {
  ok: boolean;
  stages: { stage: string; ok: boolean; skipped?: string }[];
  diagnosis?: { code: string; fix: string };
  reader?: { ok: boolean; note: string };
  warnings: string[];
}

/** The command under "Check the setup as a mailbox admin would" in the banner. */
function doctorCommand(started: Started): string {
  const line = /^ {2}((?:EXOSEND_STATE_DIR=\S+ )?npx exosend doctor --sandbox)$/m.exec(started.output());
  return line?.[1] ?? assert.fail(`the banner prints no doctor command:\n${started.output()}`);
}

// a shell that holds another tenant's settings and a CI's identity: the sandbox run must not see them
const shell = {
  ...process.env,
  EXOSEND_TENANT_ID: 'fabrikam.onmicrosoft.com',
  EXOSEND_MAILBOX: 'someone@fabrikam.example',
  AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
};

async function doctor(started: Started, extra: string[] = []): Promise<ObservedRun> {
  const run = await runObserved('exosend-cli', '/bin/sh', ['-c', [doctorCommand(started), ...extra].join(' ')], {
    env: shell,
  });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.doesNotMatch(output, jwtShaped, 'a token was printed');
  // the settings file holds the stand-ins' managed-identity header: a secret the doctor must not print
  const header = settingsOf(started)?.['IDENTITY_HEADER'];
  if (header) assert.ok(!output.includes(header), 'the identity header was printed');
  return run;
}

const settingsFile = (started: Started) => join(started.stateDir, 'sandbox.settings.json');
const settingsOf = (started: Started) =>
  existsSync(settingsFile(started))
    ? (JSON.parse(readFileSync(settingsFile(started), 'utf8')) as { Values: Record<string, string> }).Values
    : undefined;

/** As the console's page switches it (with the Origin and header a browser and the page send). */
async function switchScenario(started: Started, name: string): Promise<void> {
  const response = await fetch(`${started.baseUrl}/console/api/scenario`, {
    method: 'POST',
    headers: { origin: started.baseUrl, 'x-exosend-console': '1', 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  assert.equal(response.status, 200, await response.text());
}

async function failsAt(started: Started, stage: string, code: string, args: string[] = []): Promise<Report> {
  const [human, json] = await Promise.all([doctor(started, args), doctor(started, [...args, '--json'])]);
  assert.equal(human.code, 1, `${human.stdout}\n${human.stderr}`);
  assert.match(human.stdout, new RegExp(`^${code}  \\(stage `, 'm'));
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout) as Report;
  assert.equal(report.ok, false);
  assert.deepEqual(report.stages.at(-1), { ...report.stages.at(-1), stage, ok: false });
  assert.ok(
    report.stages.slice(0, -1).every((s) => s.ok),
    json.stdout,
  );
  assert.equal(report.diagnosis?.code, code);
  return report;
}

describe('exosend doctor --sandbox, as the npm start banner prints it', () => {
  let started: Started;
  before(async () => {
    started = await npmStart(['--scenario', 'wrong-secret']);
  });
  after(cleanUpStarts);

  it('when npm start runs a scenario, then its banner prints the doctor command and the doctor names the step that scenario breaks', async () => {
    assert.match(
      doctorCommand(started),
      new RegExp(`^EXOSEND_STATE_DIR=${started.stateDir} npx exosend doctor --sandbox$`),
    );
    await failsAt(started, 'token', 'INVALID_CLIENT_SECRET');
    const human = await doctor(started);
    assert.match(human.stdout, /^✘ token {2}\(\d+ ms\)$/m);
    assert.ok(human.stdout.includes(`from ${settingsFile(started)}, the rest from the environment`), human.stdout);
  });

  it('when the scenario is switched from the console, then the doctor follows it: SMTP AUTH disabled fails at AUTH', async () => {
    await switchScenario(started, 'smtp-auth-disabled');
    await failsAt(started, 'auth', 'SMTP_AUTH_DISABLED');
  });

  it('when the mailbox lost Send As, then a test send from the other sender fails the From check, and the fix grants it to the mailbox', async () => {
    await switchScenario(started, 'send-as-denied');
    const report = await failsAt(started, 'from', 'SEND_AS_DENIED', [
      '--from',
      'billing@contoso.example',
      '--to',
      'doctor@fabrikam.example',
    ]);
    assert.ok(
      report.diagnosis?.fix.includes(
        'Add-RecipientPermission -Identity billing@contoso.example -Trustee exosend@contoso.example -AccessRights SendAs',
      ),
      report.diagnosis?.fix,
    );
  });

  it('when the switch changes the credential too, then the doctor walks that credential: an expired certificate fails at its dates', async () => {
    await switchScenario(started, 'certificate-expired');
    assert.equal(settingsOf(started)?.['EXOSEND_CREDENTIAL'], 'certificate');
    await failsAt(started, 'certificate', 'CERTIFICATE_EXPIRED');
  });

  it('when the sandbox is healthy, then every stage passes, a test send included, and the exit code is 0', async () => {
    await switchScenario(started, 'healthy');
    assert.equal(settingsOf(started)?.['EXOSEND_CREDENTIAL'], undefined, 'the certificate credential was left over');
    const run = await doctor(started, ['--to', 'doctor@fabrikam.example', '--json']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(run.stdout) as Report;
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.stages.map((s) => `${s.stage}:${s.skipped ? 'skipped' : s.ok ? 'ok' : 'FAIL'}`),
      ['settings:ok', 'vault:ok', 'token:ok', 'claims:ok', 'connect:ok', 'auth:ok', 'send:ok', 'from:ok'],
    );
  });

  it('when Mail.Read is not granted, then the doctor passes for sending and warns that the delivery reports reader is refused, naming the RBAC for Applications command', async () => {
    await switchScenario(started, 'reader-permission-missing');
    const [json, human] = await Promise.all([doctor(started, ['--json']), doctor(started)]);
    assert.equal(json.code, 0, `${json.stdout}\n${json.stderr}`);
    const report = JSON.parse(json.stdout) as Report;
    assert.deepEqual([report.ok, report.reader?.ok], [true, false]);
    assert.match(
      report.warnings.join('\n'),
      /READER_ACCESS_DENIED[\s\S]*New-ManagementRoleAssignment -App \S+ -Role "Application Mail\.Read" -CustomResourceScope/,
    );
    assert.match(human.stdout, /^✘ delivery reports reader {2}exosend@contoso\.example: READER_ACCESS_DENIED$/m);
    await switchScenario(started, 'healthy');
    const healthy = JSON.parse((await doctor(started, ['--json'])).stdout) as Report;
    assert.equal(healthy.reader?.ok, true, healthy.reader?.note);
  });

  it('when npm start has stopped, then its settings are gone and the doctor says to start the sandbox first', async () => {
    const command = doctorCommand(started);
    await ctrlC(started);
    assert.equal(existsSync(settingsFile(started)), false, 'the stopped sandbox left its settings');
    const run = await runObserved('exosend-cli', '/bin/sh', ['-c', command], { env: shell });
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stderr, /sandbox\.settings\.json does not exist\. Start the sandbox first \(npm start\)/);
  });
});
