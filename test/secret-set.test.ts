import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SecretSource } from '../src/auth/secret-source.js';
import { loadConfig } from '../src/config/load-config.js';
import { getRuntime } from '../src/runtime/runtime.js';
import { mailRequest, startHarness, type Harness } from './harness.js';

/** Runs `exosend secret set` in a child process, as an admin would, with `input` piped on standard input. */
function secretSet(
  env: NodeJS.ProcessEnv,
  args: string[],
  input: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/cli/exosend.js', 'secret', ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
/** Shaped like an Entra client secret. */
const newSecret = () => `Nw5${'8Q~'}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}xYz`;

describe('exosend secret set, against the vault stand-in', () => {
  let h: Harness;
  let admin: { clientId: string; objectId: string };
  let stranger: { clientId: string; objectId: string };
  before(async () => {
    h = await startHarness(import.meta.filename);
    admin = h.sandbox.identity.addUserAssignedIdentity('admin');
    stranger = h.sandbox.identity.addUserAssignedIdentity('stranger');
    h.sandbox.vault.grantWrite(admin.objectId);
  });
  after(() => h.close());
  beforeEach(() => h.reset());

  // the admin's shell: the app's settings (vault URL, secret name), signed in as the admin identity
  const adminEnv = (identity = admin): NodeJS.ProcessEnv => ({
    ...process.env,
    ...h.sandbox.settings,
    AZURE_CLIENT_ID: identity.clientId,
  });
  const name = () => h.sandbox.app.secretName;

  it('when the secret is piped in with its expiry, then a new version is stored with that expiry and the value is never printed', async () => {
    const value = newSecret();
    const { code, output } = await secretSet(adminEnv(), ['set', '--expires', inDays(365)], `${value}\n`);
    h.observe(output);
    assert.equal(code, 0, output);
    assert.match(
      output,
      new RegExp(
        `stored ${name()} \\(version [0-9a-f]+\\) in ${h.sandbox.vault.url}; expires ${inDays(365)}, in 36[45] days`,
      ),
    );
    assert.ok(!output.includes(value), 'the value was printed');
    assert.equal(h.sandbox.vault.currentValue(name()), value);
    // what the app's own read sees: the expiry its warnings count down from
    const config = loadConfig(process.env);
    const stored = await new SecretSource({
      ...config,
      keyVaultUrl: config.keyVaultUrl!,
      secretName: config.clientSecretName,
    }).get();
    assert.equal(stored.expiresOn?.toISOString().slice(0, 10), inDays(365));
  });

  it('when the value comes as an argument, the expiry is missing or past, or stdin is empty, then it refuses and stores nothing', async () => {
    const before = h.sandbox.vault.currentValue(name());
    const value = newSecret();
    const cases: [string[], string][] = [
      [['set', value, '--expires', inDays(30)], ''],
      [['set'], `${value}\n`],
      [['set', '--expires', '2020-01-01'], `${value}\n`],
      [['set', '--expires', '2027-02-30'], `${value}\n`],
      [['set', '--expires', inDays(30)], ''],
      [['set', '--expires', inDays(30)], 'two words\n'],
    ];
    for (const [args, input] of cases) {
      const { code, output } = await secretSet(adminEnv(), args, input);
      h.observe(output);
      assert.equal(code, 2, `${args.join(' ')}: ${output}`);
      assert.ok(!output.includes(value), 'the value was printed');
    }
    assert.equal(h.sandbox.vault.currentValue(name()), before);
  });

  it('when the signed-in identity lacks Key Vault Secrets Officer, then it says so, exits 1 and stores nothing', async () => {
    const before = h.sandbox.vault.currentValue(name());
    const value = newSecret();
    const { code, output } = await secretSet(adminEnv(stranger), ['set', '--expires', inDays(30)], value);
    h.observe(output);
    assert.equal(code, 1, output);
    assert.match(output, /Key Vault Secrets Officer/);
    assert.ok(!output.includes(value));
    assert.equal(h.sandbox.vault.currentValue(name()), before);
  });

  it('when the secret is rotated (new one added in Entra, stored, old one removed), then the running app sends with the new version without a restart', async () => {
    const { clientId, secret: oldSecret } = h.sandbox.app;
    // tokens short-lived enough that every send asks Entra again, so the next one meets the rotation
    h.sandbox.identity.updateApp(clientId, { lifetimeSeconds: 300 });
    assert.equal((await h.send(mailRequest({}))).status, 200);
    const runtime = getRuntime();

    const rotated = newSecret();
    h.sandbox.identity.updateApp(clientId, { secrets: [oldSecret, rotated] });
    const { code, output } = await secretSet(adminEnv(), ['set', '--expires', inDays(180)], rotated);
    h.observe(output);
    assert.equal(code, 0, output);
    h.sandbox.identity.updateApp(clientId, { secrets: [rotated] });
    h.sandbox.vault.resetCounters();

    const reply = await h.send(mailRequest({}));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(getRuntime(), runtime, 'the same worker, not restarted');
    assert.equal(h.sandbox.vault.reads, 1, 'the new version was read once, when Entra refused the old one');
    assert.equal(h.sandbox.vault.currentValue(name()), rotated);
  });
});
