import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  credentialSettings,
  sandboxScenarios,
  startSandbox,
  type Sandbox,
  type SandboxScenarioName,
} from '../local/sandbox/index.js';
import { observedDir, runObserved } from './observed.js';

// `exosend doctor` run as an admin runs it: a child process of the built CLI, against the stand-ins
// started here (NODE_EXTRA_CA_CERTS, set by scripts/test.mjs, is inherited so the child trusts them).

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const cli = join(import.meta.dirname, '..', 'cli', 'exosend.js');
const jwtShaped = /eyJ[\w-]+\.[\w-]+\./;
let sandbox: Sandbox;
let workDir: string;
/** Secrets handed to the doctor by the tests themselves (not issued by the stand-ins). */
const extraSecrets = ['Zq18Q~wrong-secret-typed-by-an-admin-000000'];
const outputs: string[] = [];

async function doctor(
  args: string[],
  env: Record<string, string | undefined> = { ...process.env, ...sandbox.settings },
): Promise<Run> {
  // a setting given as undefined is one the run must not see at all
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
  const run = await runObserved('exosend-cli', process.execPath, [cli, 'doctor', ...args], { env: defined });
  outputs.push(run.stdout, run.stderr);
  assertNoSecretIn(`${run.stdout}
${run.stderr}`);
  return run;
}

function assertNoSecretIn(text: string): void {
  for (const secret of [...sandbox.knownSecrets(), ...extraSecrets])
    assert.ok(!text.includes(secret), 'a secret or token was printed');
  assert.doesNotMatch(text, jwtShaped);
}

/** The environment of a shell where none of the sandbox's settings is set. */
function bareEnvironment(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !(name in sandbox.settings)));
}

const parseReport = (run: Run) =>
  JSON.parse(run.stdout) as {
    ok: boolean;
    stages: { stage: string; ok: boolean; skipped?: string }[];
    [k: string]: any;
  };
const stagesOf = (report: ReturnType<typeof parseReport>) =>
  report.stages.map((s) => `${s.stage}:${s.skipped ? 'skipped' : s.ok ? 'ok' : 'FAIL'}`);

before(async () => {
  sandbox = await startSandbox();
  workDir = mkdtempSync(join(tmpdir(), 'exosend-doctor-'));
});
after(async () => {
  rmSync(workDir, { recursive: true, force: true });
  // what the doctor printed joins the suite-wide secret check too
  mkdirSync(observedDir, { recursive: true });
  const name = `${basename(import.meta.filename).replace(/\W+/g, '-')}-${process.pid}`;
  appendFileSync(join(observedDir, `${name}.observed.txt`), outputs.join('\n') + '\n');
  appendFileSync(
    join(observedDir, `${name}.secrets.txt`),
    [...sandbox.knownSecrets(), ...extraSecrets].join('\n') + '\n',
  );
  await sandbox?.close();
});

describe('exosend doctor on a healthy setup', { concurrency: 3 }, () => {
  it('when the setup is healthy, then every stage passes with its time, the claims are shown and the exit code is 0', async () => {
    const run = await doctor([]);
    assert.equal(run.code, 0, run.stdout);
    for (const stage of ['settings', 'vault secret', 'token', 'claims', 'SMTP connect + STARTTLS', 'AUTH XOAUTH2']) {
      assert.match(run.stdout, new RegExp(`^✔ ${stage.replace(/[+]/g, '\\+')}  \\(\\d+ ms\\)`, 'm'));
    }
    const { clientId, tenantId } = sandbox.app;
    assert.match(
      run.stdout,
      new RegExp(
        `aud https://outlook.office365.com, roles SMTP.SendAsApp, appid ${clientId}, tid ${tenantId}, expires`,
      ),
    );
    assert.match(run.stdout, /expires \d{4}-\d\d-\d\d \(1\d\d days left\)/);
    assert.match(run.stdout, /^- test send {2}skipped: no --to ADDRESS/m);
    assert.match(run.stdout, /^✔ From check .*the From is the mailbox itself/m);
    assert.match(run.stdout, /All stages passed/);
  });

  it('when --to is given, then a test message that says it is a test arrives and the send stage passes', async () => {
    const to = 'doctor-to@fabrikam.example';
    const run = await doctor(['--to', to]);
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /^✔ test send {2}\(\d+ ms\)/m);
    const message = sandbox.exchange.messages.find((m) => m.envelope.rcptTo.includes(to));
    assert.ok(message, 'the test message arrived');
    assert.match(message.raw.toString(), /^Subject: exosend doctor: test message/m);
    assert.match(message.raw.toString(), /This is a test message from exosend/);
  });

  it('when --json is given, then stdout is one JSON report with the same verdicts and the claims', async () => {
    const run = await doctor(['--json', '--to', 'doctor-json@fabrikam.example']);
    assert.equal(run.code, 0, run.stdout);
    const report = parseReport(run);
    assert.equal(report.ok, true);
    assert.deepEqual(stagesOf(report), [
      'settings:ok',
      'vault:ok',
      'token:ok',
      'claims:ok',
      'connect:ok',
      'auth:ok',
      'send:ok',
      'from:ok',
    ]);
    assert.ok(report.stages.every((s) => typeof (s as { durationMs?: unknown }).durationMs === 'number'));
    assert.deepEqual(report['claims'].roles, ['SMTP.SendAsApp']);
    assert.equal(report['claims'].appId, sandbox.app.clientId);
    // Key Vault keeps whole seconds
    assert.equal(
      report['secretExpiresOn'],
      new Date(Math.floor(sandbox.app.secretExpiresOn.getTime() / 1000) * 1000).toISOString(),
    );
    assert.deepEqual(report['warnings'], []);
  });

  it('when --from is another allowed sender and no --to is given, then the From check is skipped, not failed', async () => {
    const run = await doctor(['--from', sandbox.app.sendAsAddress]);
    assert.equal(run.code, 0, run.stdout);
    assert.match(
      run.stdout,
      /^- From check {2}skipped: billing@contoso\.example is not the mailbox .*add --to ADDRESS/m,
    );
  });

  it('when --from is another allowed sender with Send As and --to is given, then the From check passes', async () => {
    const run = await doctor(['--from', sandbox.app.sendAsAddress, '--to', 'doctor-from@fabrikam.example']);
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /^✔ From check .*exosend@contoso\.example may send as billing@contoso\.example/m);
  });

  it('when RBAC mode is set and the token still holds SMTP.SendAsApp, then the run passes and warns about the permission', async () => {
    const run = await doctor(['--json'], { ...process.env, ...sandbox.settings, EXOSEND_ROLES_MODE: 'rbac' });
    assert.equal(run.code, 0, run.stdout);
    const report = parseReport(run);
    assert.equal(report.ok, true);
    assert.match(report['warnings'][0], /holds SMTP\.SendAsApp, which RBAC for Applications does not use/);
  });

  it('when the settings come from --settings FILE, then the file fills what the environment does not set and the environment wins', async () => {
    const file = join(workDir, 'local.settings.json');
    const values = { FUNCTIONS_WORKER_RUNTIME: 'node', ...sandbox.settings, EXOSEND_CLIENT_ID: 'copied-the-wrong-id' };
    writeFileSync(file, JSON.stringify({ IsEncrypted: false, Values: values, Comments: { any: 'ignored' } }));
    const run = await doctor(['--settings', file], { ...bareEnvironment(), EXOSEND_CLIENT_ID: sandbox.app.clientId });
    assert.equal(run.code, 0, run.stdout);
    assert.match(
      run.stdout,
      new RegExp(
        `^✔ settings  \\(\\d+ ms\\)  \\d+ from ${file.replace(/[.\\]/g, '\\$&')}, the rest from the environment`,
        'm',
      ),
    );
  });

  it('when the secret comes from --client-secret-from-env, then the vault stage is skipped and the token passes without printing it', async () => {
    const run = await doctor(['--client-secret-from-env'], {
      ...process.env,
      ...sandbox.settings,
      EXOSEND_CLIENT_SECRET: sandbox.app.secret,
    });
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /^- vault secret {2}skipped: the client secret comes from \$EXOSEND_CLIENT_SECRET/m);
    assert.match(run.stdout, /^✔ token/m);
  });

  it('when --client-secret-from-env names a variable with a wrong secret, then the token stage fails with INVALID_CLIENT_SECRET', async () => {
    const env = { ...process.env, ...sandbox.settings, NEW_SECRET: extraSecrets[0] };
    const run = await doctor(['--client-secret-from-env', 'NEW_SECRET', '--json'], env);
    assert.equal(run.code, 1);
    const report = parseReport(run);
    assert.deepEqual(stagesOf(report), ['settings:ok', 'vault:skipped', 'token:FAIL']);
    assert.equal(report['diagnosis'].code, 'INVALID_CLIENT_SECRET');
  });

  it('when the settings are wrong, then the settings stage names each variable and what it must be, in both formats', async () => {
    const env = {
      ...process.env,
      ...sandbox.settings,
      EXOSEND_TENANT_ID: 'not a tenant',
      EXOSEND_CLIENT_ID: '1234',
      EXOSEND_KEY_VAULT_URL: 'http://vault.example',
      EXOSEND_SCOPE: 'https://graph.microsoft.com/.default',
      EXOSEND_ALLOWED_SENDERS: '',
    };
    const args = ['--from', sandbox.app.sendAsAddress, '--client-secret-from-env', 'UNSET_SECRET_VARIABLE'];
    const [human, json] = await Promise.all([doctor(args, env), doctor([...args, '--json'], env)]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /^✘ settings/m);
    assert.match(
      human.stdout,
      /EXOSEND_TENANT_ID must be a GUID or a domain name: the Directory \(tenant\) ID from Entra admin center > Overview/,
    );
    assert.match(
      human.stdout,
      /EXOSEND_CLIENT_ID must be a GUID: the Application \(client\) ID from Entra admin center > App registrations/,
    );
    assert.match(human.stdout, /EXOSEND_KEY_VAULT_URL must be an https:\/\/ URL/);
    assert.match(
      human.stdout,
      /EXOSEND_SCOPE names another resource than Exchange Online.*https:\/\/outlook\.office365\.com\/\.default/,
    );
    assert.match(human.stdout, /--from billing@contoso\.example is not one of EXOSEND_ALLOWED_SENDERS/);
    assert.match(human.stdout, /UNSET_SECRET_VARIABLE is not set .*read -rs UNSET_SECRET_VARIABLE/);
    assert.match(human.stdout, /nothing was contacted/);
    const report = parseReport(json);
    assert.equal(json.code, 1);
    assert.deepEqual(stagesOf(report), ['settings:FAIL']);
    assert.deepEqual(report['problems'].map((p: { variable: string }) => p.variable).sort(), [
      '--from',
      'EXOSEND_CLIENT_ID',
      'EXOSEND_KEY_VAULT_URL',
      'EXOSEND_SCOPE',
      'EXOSEND_TENANT_ID',
      'UNSET_SECRET_VARIABLE',
    ]);
  });

  it('when the settings file is missing or not JSON, then the settings stage fails naming the file', async () => {
    const broken = join(workDir, 'broken.settings.json');
    writeFileSync(broken, '{ "Values": { "EXOSEND_MAILBOX": "a@b.example", } }');
    const [missing, invalid] = await Promise.all([
      doctor(['--settings', join(workDir, 'nowhere.json')], bareEnvironment()),
      doctor(['--settings', broken, '--json'], bareEnvironment()),
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /--settings .*nowhere\.json does not exist/);
    assert.equal(invalid.code, 1);
    assert.match(
      parseReport(invalid)['problems'][0].message,
      /broken\.settings\.json is not valid JSON \(line 1, column \d+\)/,
    );
  });

  it('when the command line is wrong, then the exit code is 2 and the usage tells how to keep a secret out of the history', async () => {
    const [unknown, badAddress, help] = await Promise.all([
      doctor(['--secret', 'x']),
      doctor(['--to', 'nobody']),
      doctor(['--help']),
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /usage: exosend doctor/);
    assert.equal(badAddress.code, 2);
    assert.match(badAddress.stderr, /--to must be an email address/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /read -rs EXOSEND_CLIENT_SECRET && export EXOSEND_CLIENT_SECRET/);
  });
});

interface FailureCase {
  name: string;
  arrange: (s: Sandbox) => void;
  args?: string[];
  settings?: Record<string, string | undefined>;
  code: string;
  /** The failing stage: the JSON name and the human label. */
  stage: [string, string];
  fix: (s: Sandbox) => string[];
  /** Who replied, as the human format labels it, and the start of the raw reply. */
  reply: [string, string];
}

const scenario = (name: SandboxScenarioName) => (s: Sandbox) => sandboxScenarios[name](s);
const failures: FailureCase[] = [
  {
    name: "the vault's certificate has expired",
    arrange: scenario('certificate-expired'),
    settings: { EXOSEND_CREDENTIAL: 'certificate' },
    code: 'CERTIFICATE_EXPIRED',
    stage: ['certificate', 'certificate dates'],
    fix: (s) => [
      `az keyvault certificate create --vault-name 127 --name ${s.app.certificateName}`,
      `az ad app credential reset --id ${s.app.clientId} --keyvault 127 --cert ${s.app.certificateName} --append`,
    ],
    reply: ['The certificate:', 'thumbprint '],
  },
  {
    name: "the certificate's public part is not on the app registration",
    arrange: scenario('certificate-not-registered'),
    settings: { EXOSEND_CREDENTIAL: 'certificate' },
    code: 'CERTIFICATE_NOT_REGISTERED',
    stage: ['token', 'token'],
    fix: (s) => [
      `az ad app credential reset --id ${s.app.clientId} --keyvault 127 --cert ${s.app.certificateName} --append`,
    ],
    reply: [
      'Entra replied:',
      'invalid_client: AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.',
    ],
  },
  {
    name: "the federated credential names another subject than the Function App's identity",
    arrange: scenario('federation-subject-mismatch'),
    settings: { EXOSEND_CREDENTIAL: 'federated', EXOSEND_KEY_VAULT_URL: undefined },
    code: 'FEDERATED_CREDENTIAL_MISMATCH',
    stage: ['token', 'token'],
    fix: (s) => [
      `az ad app federated-credential create --id ${s.app.clientId} --parameters '{"name":"exosend-function-app","issuer":"${s.app.federation.issuer}","subject":"${s.app.federatedIdentity.objectId}","audiences":["api://AzureADTokenExchange"]}'`,
    ],
    reply: [
      'Entra replied:',
      'invalid_request: AADSTS700213: No matching federated identity record found for presented assertion subject',
    ],
  },
  {
    name: 'the app is not registered in Exchange (KB: 535 5.7.139)',
    arrange: scenario('service-principal-not-registered'),
    code: 'APP_NOT_REGISTERED_IN_EXCHANGE',
    stage: ['auth', 'AUTH XOAUTH2'],
    fix: (s) => [
      `New-ServicePrincipal -AppId ${s.app.clientId} -ObjectId`,
      `Add-MailboxPermission -Identity ${s.app.mailbox}`,
    ],
    reply: ['Exchange replied:', '535 5.7.139 Authentication unsuccessful, the request did not meet the criteria'],
  },
  {
    name: 'RBAC mode is set but Exchange grants the app nothing (KB: 535 5.7.3)',
    arrange: scenario('missing-role'),
    settings: { EXOSEND_ROLES_MODE: 'rbac' },
    code: 'AUTH_UNSUCCESSFUL',
    stage: ['auth', 'AUTH XOAUTH2'],
    fix: (s) => [
      `Get-ServicePrincipal | Where-Object AppId -eq ${s.app.clientId}`,
      `Add-MailboxPermission -Identity ${s.app.mailbox}`,
    ],
    reply: ['Exchange replied:', '535 5.7.3 Authentication unsuccessful'],
  },
  {
    name: 'the app has no FullAccess on the mailbox (KB: 535 5.7.3)',
    arrange: (s) => {
      sandboxScenarios.healthy(s);
      s.exchange.revokeFullAccess(s.app.mailbox, s.app.clientId);
    },
    code: 'AUTH_UNSUCCESSFUL',
    stage: ['auth', 'AUTH XOAUTH2'],
    fix: (s) => [
      `Add-MailboxPermission -Identity ${s.app.mailbox} -User <the same Enterprise application Object ID> -AccessRights FullAccess`,
    ],
    reply: ['Exchange replied:', '535 5.7.3 Authentication unsuccessful'],
  },
  {
    name: 'the From has no Send As (KB: 554 5.2.252)',
    arrange: scenario('send-as-denied'),
    args: ['--from', 'billing@contoso.example', '--to', 'doctor-denied@fabrikam.example'],
    code: 'SEND_AS_DENIED',
    stage: ['from', 'From check'],
    fix: (s) => [
      `Add-RecipientPermission -Identity ${s.app.sendAsAddress} -Trustee ${s.app.mailbox} -AccessRights SendAs`,
    ],
    reply: ['Exchange replied:', '554 5.2.252 SendAsDenied'],
  },
  {
    name: 'the vault holds a wrong client secret',
    arrange: scenario('wrong-secret'),
    code: 'INVALID_CLIENT_SECRET',
    stage: ['token', 'token'],
    fix: (s) => [
      `App registrations > app ${s.app.clientId} > Certificates & secrets > New client secret`,
      `as the secret ${s.app.secretName}`,
    ],
    reply: ['Entra replied:', 'invalid_client: AADSTS7000215'],
  },
  {
    name: 'the client secret has expired',
    arrange: scenario('expired-secret'),
    code: 'CLIENT_SECRET_EXPIRED',
    stage: ['token', 'token'],
    fix: (s) => [`App registrations > app ${s.app.clientId} > Certificates & secrets > New client secret`],
    reply: ['Entra replied:', 'invalid_client: AADSTS7000222'],
  },
  {
    name: 'the vault has no such secret',
    arrange: scenario('secret-missing'),
    code: 'VAULT_SECRET_NOT_FOUND',
    stage: ['vault', 'vault secret'],
    fix: (s) => [`EXOSEND_CLIENT_SECRET_NAME (${s.app.secretName})`, 'Manage deleted secrets > Recover'],
    reply: ['Key Vault replied:', '404 SecretNotFound'],
  },
  {
    name: 'the token lacks SMTP.SendAsApp',
    arrange: scenario('missing-role'),
    code: 'TOKEN_ROLE_MISSING',
    stage: ['claims', 'claims'],
    fix: (s) => [
      `App registrations > app ${s.app.clientId} > API permissions`,
      'SMTP.SendAsApp, then "Grant admin consent"',
    ],
    reply: ['The token holds:', 'token: aud=https://outlook.office365.com'],
  },
  {
    name: 'the token is for Microsoft Graph',
    arrange: scenario('graph-audience'),
    code: 'TOKEN_WRONG_AUDIENCE',
    stage: ['claims', 'claims'],
    fix: () => ['Set EXOSEND_SCOPE to https://outlook.office365.com/.default'],
    reply: ['The token holds:', 'token: aud=https://graph.microsoft.com'],
  },
  {
    name: 'SMTP AUTH is disabled for the tenant',
    arrange: scenario('smtp-auth-disabled'),
    code: 'SMTP_AUTH_DISABLED',
    stage: ['auth', 'AUTH XOAUTH2'],
    fix: (s) => [`Set-CASMailbox -Identity ${s.app.mailbox} -SmtpClientAuthenticationDisabled $false`],
    reply: [
      'Exchange replied:',
      '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant',
    ],
  },
];

// each case reconfigures the shared stand-ins: one at a time, its two formats side by side
describe('exosend doctor names the broken setup step', () => {
  after(() => sandboxScenarios.healthy(sandbox));

  for (const c of failures) {
    it(`when ${c.name}, then it exits 1 with ${c.code}, the fix and the raw reply, in both formats`, async () => {
      c.arrange(sandbox);
      const federated =
        c.settings?.['EXOSEND_CREDENTIAL'] === 'federated'
          ? { AZURE_CLIENT_ID: sandbox.app.federatedIdentity.clientId }
          : {};
      const env = { ...process.env, ...sandbox.settings, ...c.settings, ...federated };
      const [human, json] = await Promise.all([doctor(c.args ?? [], env), doctor([...(c.args ?? []), '--json'], env)]);
      const [stage, label] = c.stage;

      assert.equal(human.code, 1, human.stdout);
      assert.match(human.stdout, new RegExp(`^✘ ${label}  \\(\\d+ ms\\)$`, 'm'));
      assert.match(human.stdout, new RegExp(`^${c.code}  \\(stage `, 'm'));
      for (const step of c.fix(sandbox))
        assert.ok(human.stdout.includes(step), `the fix names: ${step}\n${human.stdout}`);
      assert.ok(human.stdout.includes(c.reply.join(' ')), `the raw reply: ${c.reply.join(' ')}\n${human.stdout}`);

      assert.equal(json.code, 1);
      const report = parseReport(json);
      assert.equal(report.ok, false);
      assert.equal(report.stages.at(-1)?.stage, stage);
      assert.equal(report.stages.at(-1)?.ok, false);
      assert.ok(report.stages.slice(0, -1).every((s) => s.ok));
      assert.equal(report['diagnosis'].code, c.code);
      for (const step of c.fix(sandbox)) assert.ok(report['diagnosis'].fix.includes(step), step);
      assert.ok(report['diagnosis'].smtp.startsWith(c.reply[1]), report['diagnosis'].smtp);
    });
  }

  it('when the vault says the secret expires within a month, then the run passes with a warning to renew it', async () => {
    sandboxScenarios.healthy(sandbox);
    const { secretName, secret, secretExpiresOn, clientId } = sandbox.app;
    sandbox.vault.setSecret(secretName, secret, { expiresOn: new Date(Date.now() + 10.5 * 24 * 60 * 60 * 1000) });
    try {
      const [human, json] = await Promise.all([doctor([]), doctor(['--json'])]);
      assert.equal(human.code, 0, human.stdout);
      assert.match(human.stdout, /expires \d{4}-\d\d-\d\d \(10 days left\)/);
      assert.match(
        human.stdout,
        new RegExp(`^Warning: .*10 days left.*App registrations > app ${clientId} > Certificates & secrets`, 'm'),
      );
      assert.equal(parseReport(json)['warnings'].length, 1);
    } finally {
      sandbox.vault.setSecret(secretName, secret, { expiresOn: secretExpiresOn });
    }
  });

  it('when the settings are wrong, then no stand-in is contacted', async () => {
    sandboxScenarios.healthy(sandbox);
    sandbox.identity.resetCounters();
    sandbox.vault.resetCounters();
    sandbox.exchange.resetCounters();
    const run = await doctor([], { ...process.env, ...sandbox.settings, EXOSEND_CLIENT_ID: 'not-a-guid' });
    assert.equal(run.code, 1);
    assert.equal(sandbox.identity.counters.tokenRequests + sandbox.identity.counters.managedIdentityRequests, 0);
    assert.equal(sandbox.exchange.counters.connections, 0);
  });
});

describe('exosend doctor with a certificate or a federated credential', () => {
  after(() => sandboxScenarios.healthy(sandbox));
  const withCredential = (kind: 'certificate' | 'federated', extra: Record<string, string | undefined> = {}) => ({
    ...process.env,
    ...sandbox.settings,
    ...credentialSettings(sandbox.app, kind),
    ...extra,
  });

  it('when EXOSEND_CREDENTIAL=certificate, then it walks the vault certificate, its dates, the assertion and the token', async () => {
    sandboxScenarios.healthy(sandbox);
    const [human, json] = await Promise.all([
      doctor([], withCredential('certificate')),
      doctor(['--json'], withCredential('certificate')),
    ]);
    assert.equal(human.code, 0, human.stdout);
    assert.match(
      human.stdout,
      new RegExp(
        `^✔ vault certificate  \\(\\d+ ms\\)  certificate ${sandbox.app.certificateName} in ${sandbox.vault.url}, with its private key; thumbprint ${sandbox.app.certificate.thumbprint}$`,
        'm',
      ),
    );
    assert.match(
      human.stdout,
      /^✔ certificate dates {2}\(\d+ ms\) {2}valid from \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d \(3\d\d days left\)$/m,
    );
    assert.match(
      human.stdout,
      /^✔ token {2}\(\d+ ms\) {2}client assertion signed with the certificate \(PS256, x5t#S256\)/m,
    );
    const report = parseReport(json);
    assert.deepEqual(stagesOf(report), [
      'settings:ok',
      'vault:ok',
      'certificate:ok',
      'token:ok',
      'claims:ok',
      'connect:ok',
      'auth:ok',
      'send:skipped',
      'from:ok',
    ]);
    assert.equal(report['credential'], 'certificate');
    assert.equal(report['credentialExpiresOn'], sandbox.app.certificate.notAfter.toISOString());
  });

  it('when EXOSEND_CREDENTIAL=federated in Azure (an identity endpoint), then it walks the token without a vault stage', async () => {
    sandboxScenarios.healthy(sandbox);
    const run = await doctor(['--json'], withCredential('federated'));
    assert.equal(run.code, 0, run.stdout);
    assert.deepEqual(stagesOf(parseReport(run)), [
      'settings:ok',
      'token:ok',
      'claims:ok',
      'connect:ok',
      'auth:ok',
      'send:skipped',
      'from:ok',
    ]);
  });

  it('when EXOSEND_CREDENTIAL=federated on a laptop (no identity endpoint), then it says plainly it cannot be tried and points at /api/health', async () => {
    sandboxScenarios.healthy(sandbox);
    sandbox.identity.resetCounters();
    const run = await doctor(
      [],
      withCredential('federated', { IDENTITY_ENDPOINT: undefined, IDENTITY_HEADER: undefined }),
    );
    assert.equal(run.code, 0, run.stdout);
    assert.match(
      run.stdout,
      /^- token {2}skipped: EXOSEND_CREDENTIAL=federated cannot be tried here: .* there is none outside Azure/m,
    );
    assert.match(run.stdout, /https:\/\/<function app>\.azurewebsites\.net\/api\/health/);
    assert.match(run.stdout, /^Only the settings could be checked here/m);
    assert.equal(
      sandbox.identity.counters.tokenRequests + sandbox.identity.counters.managedIdentityRequests,
      0,
      'nothing was tried',
    );
  });

  it('when --client-secret-from-env is given with a certificate, then the settings stage says it tests secrets only', async () => {
    const run = await doctor(
      ['--client-secret-from-env'],
      withCredential('certificate', { EXOSEND_CLIENT_SECRET: 'x'.repeat(40) }),
    );
    assert.equal(run.code, 1);
    assert.match(run.stdout, /--client-secret-from-env tests a client secret, but EXOSEND_CREDENTIAL is certificate/);
  });
});

it('when any of the runs above printed anything, then neither stdout nor stderr held the client secret or a token', () => {
  assert.ok(outputs.length >= 2 * 2 * failures.length, 'every run was recorded');
  assertNoSecretIn(outputs.join('\n'));
});
