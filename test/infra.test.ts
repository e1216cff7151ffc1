import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load-config.js';
import { budgetTable } from '../src/budget/table-budget.js';
import { availabilityTestName } from '../src/health/availability.js';
import { recordsTable, requestsContainer } from '../src/storage/storage.js';
import { mailEventKinds } from '../src/telemetry/mail-events.js';

const bicep = (file: string) => readFileSync(join('infra', file), 'utf8');

/** Built-in role definition IDs (Microsoft Learn, "Azure built-in roles"), by what they allow. */
const builtInRoles: Record<string, string> = {
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba': 'Key Vault Certificate User',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  'a4417e6f-fecd-4de8-b567-7b0420556985': 'Key Vault Certificates Officer',
};

/** What each data-plane client the app's code uses needs from the identity it runs as. */
const rolesForClients: { uses: RegExp; what: string; roles: string[] }[] = [
  { uses: /from '@azure\/storage-queue'/, what: 'queues', roles: ['Storage Queue Data Contributor'] },
  { uses: /from '@azure\/data-tables'/, what: 'tables', roles: ['Storage Table Data Contributor'] },
  { uses: /from '@azure\/storage-blob'/, what: 'blobs', roles: ['Storage Blob Data Owner', 'Storage Blob Data Contributor'] },
  { uses: /from '@azure\/keyvault-secrets'/, what: 'vault secrets', roles: ['Key Vault Secrets User'] },
  { uses: /from '@azure\/keyvault-certificates'/, what: 'vault certificates', roles: ['Key Vault Certificate User'] },
  { uses: /\/v2\.1\/track/, what: 'telemetry ingestion', roles: ['Monitoring Metrics Publisher'] },
];

/** The app's own sources: what the deployed bundle can call (not the sandbox, the local host or the CLI). */
function appSources(): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && !['sandbox', 'local-host', 'cli'].includes(entry.name)) walk(path);
      else if (entry.isFile() && path.endsWith('.ts')) files.push(readFileSync(path, 'utf8'));
    }
  };
  walk('src');
  return files.join('\n');
}

/** `var appSettings = { NAME: value ... }` in infra/app/api.bicep: each name, and its value when it is a literal. */
function appSettings(): Map<string, string | undefined> {
  const block = /var appSettings = \{\n([\s\S]*?)\n\}/.exec(bicep('app/api.bicep'))?.[1];
  assert.ok(block, 'infra/app/api.bicep declares var appSettings');
  const settings = new Map<string, string | undefined>();
  for (const line of block.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*): (.+)$/.exec(line);
    if (match) settings.set(match[1]!, /^'[^'$]*'$/.test(match[2]!) ? match[2]!.slice(1, -1) : undefined);
  }
  return settings;
}

/** A value of the right shape for a setting whose value the template computes (an ID, a URL, a parameter). */
function sampleValue(name: string): string {
  if (/__clientId$|_CLIENT_ID$|_TENANT_ID$/.test(name)) return '6e7c0f43-55a3-4c1a-9f0e-3f5f7c1e2a10';
  if (/ServiceUri$/.test(name)) return `https://exostore.${/__(\w+)ServiceUri/.exec(name)![1]}.core.windows.net/`;
  if (name === 'EXOSEND_KEY_VAULT_URL') return 'https://kv-exosend.vault.azure.net/';
  if (name === 'EXOSEND_MAILBOX') return 'exosend@contoso.example';
  if (name === 'EXOSEND_ROLES_MODE') return 'entra';
  if (name === 'APPLICATIONINSIGHTS_CONNECTION_STRING') return 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/';
  if (name === 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING') return 'ClientId=6e7c0f43-55a3-4c1a-9f0e-3f5f7c1e2a10;Authorization=AAD';
  // a parameter that may be left empty (allowed senders, the health recipient, further mailboxes)
  return '';
}

describe('the template and the code agree (infra/ read as text: no Bicep CLI needed)', () => {
  it('when the app settings the template sets are given to the configuration, then every setting it requires is there, storage is by identity and telemetry by Entra token', () => {
    const settings = appSettings();
    const env = Object.fromEntries([...settings].map(([name, literal]) => [name, literal ?? sampleValue(name)]));
    const config = loadConfig(env);
    assert.equal(config.storage?.kind, 'identity');
    assert.equal(config.storage?.kind === 'identity' && config.storage.credential, 'managedidentity');
    assert.deepEqual(config.telemetryAuthentication, { clientId: '6e7c0f43-55a3-4c1a-9f0e-3f5f7c1e2a10' });
    assert.ok(config.managedIdentityClientId, 'AZURE_CLIENT_ID names the identity that reads the vault');
    for (const name of ['EXOSEND_CREDENTIAL', 'EXOSEND_CLIENT_CERTIFICATE_NAME', 'EXOSEND_MAILBOXES', 'EXOSEND_RECIPIENTS_PER_DAY']) {
      assert.ok(settings.has(name), `${name} is set (round two's settings)`);
    }
    for (const unused of ['FUNCTIONS_WORKER_RUNTIME', 'WEBSITE_RUN_FROM_PACKAGE', 'AzureWebJobsStorage', 'WEBSITE_CONTENTSHARE', 'APPINSIGHTS_INSTRUMENTATIONKEY']) {
      assert.equal(settings.has(unused), false, `${unused} is not a setting Flex Consumption or this app uses`);
    }
  });

  it('when the code calls a data plane (queues, tables, blobs, the vault, telemetry), then the identity holds a role for it', () => {
    const rbac = bicep('app/rbac.bicep');
    const roleIds = Object.fromEntries([...rbac.matchAll(/^\s*(\w+): '([0-9a-f-]{36})'/gm)].map((m) => [m[1]!, m[2]!]));
    const assignedToApp = [...rbac.matchAll(/roleDefinitions', roles\.(\w+)\)\n\s*principalId: identityPrincipalId/g)].map((m) => builtInRoles[roleIds[m[1]!]!]);
    const sources = appSources();
    const needed = rolesForClients.filter((client) => client.uses.test(sources));
    assert.ok(needed.length >= 5, `the code's clients were found: ${needed.map((n) => n.what).join(', ')}`);
    for (const client of needed) {
      assert.ok(client.roles.some((role) => assignedToApp.includes(role)), `${client.what}: none of ${client.roles.join(' / ')} is assigned to the app's identity`);
    }
    assert.ok(!assignedToApp.includes(undefined), 'every role assigned is a known built-in role');
  });

  it('when the template names a queue, table or container, then it is the one the code uses', () => {
    const storage = bicep('app/storage.bicep');
    const { queue } = loadConfig({ ...Object.fromEntries([...appSettings()].map(([name, literal]) => [name, literal ?? sampleValue(name)])) });
    assert.equal(appSettings().get('EXOSEND_QUEUE'), queue);
    assert.match(storage, new RegExp(`param queueName string = '${queue}'`));
    assert.match(storage, /resource poison 'queues' = \{ name: '\$\{queueName\}-poison' \}/);
    assert.match(storage, new RegExp(`resource records 'tables' = \\{ name: '${recordsTable}' \\}`));
    assert.match(storage, new RegExp(`resource requests 'containers' = \\{ name: '${requestsContainer}' \\}`));
    assert.match(storage, new RegExp(`resource budget 'tables' = \\{ name: '${budgetTable}' \\}`));
  });

  it('when an alert query names telemetry, then the code emits that name, and the four rules are there', () => {
    const alerts = bicep('app/alerts.bicep');
    const emitted = new Set([availabilityTestName, ...mailEventKinds.map((kind) => `exosend.${kind}`)]);
    const queries = [...alerts.matchAll(/query: '((?:[^'\\]|\\.)*)'/g)].map((m) => m[1]!);
    assert.equal(queries.length, 4);
    const named = queries.flatMap((q) => [...q.matchAll(/"(exosend[^"]*)"/g)].map((m) => m[1]!));
    assert.deepEqual(named.filter((name) => !emitted.has(name)), [], 'an alert names telemetry the code does not emit');
    assert.ok(queries.some((q) => q.includes(`name == "${availabilityTestName}" and success == false`)), 'the health check failing');
    assert.ok(/name: 'health-check-silent'[\s\S]*?operator: 'LessThan'\n\s*threshold: 1/.test(alerts), 'the health check silent');
    assert.ok(queries.some((q) => q.includes('"exosend.dead-lettered"')), 'any dead letter');
    assert.ok(queries.some((q) => q.includes('"exosend.retry"')), 'transient failures');
  });

  it('when the template is read, then the platform is Flex Consumption on Node 22, shared keys and local auth are off, the vault is RBAC', () => {
    const api = bicep('app/api.bicep');
    assert.match(api, /sku: \{ tier: 'FlexConsumption', name: 'FC1' \}/);
    assert.match(api, /runtime: \{\n\s*name: 'node'\n\s*version: '22'/);
    assert.match(api, /maximumInstanceCount: maximumInstanceCount/);
    assert.match(bicep('app/storage.bicep'), /allowSharedKeyAccess: false/);
    assert.match(bicep('app/storage.bicep'), /minimumTlsVersion: 'TLS1_2'/);
    assert.match(bicep('app/monitoring.bicep'), /DisableLocalAuth: true/);
    assert.match(bicep('app/vault.bicep'), /enableRbacAuthorization: true/);
    assert.doesNotMatch(readFileSync('infra/main.bicep', 'utf8') + api, /br\/public:|br:/, 'local modules only');
  });
});

describe('the template compiles and lints clean (Bicep CLI)', () => {
  const found = spawnSync('bicep', ['--version'], { encoding: 'utf8' });
  const available = found.status === 0;
  const skip = available
    ? false
    : 'skipped: no `bicep` on PATH. The Bicep CLI is the NuGet package Azure.Bicep.CommandLine.linux-x64; .ci/run restores it and puts it on PATH. Everything else ran.';
  if (skip) console.log(`infra/main.bicep compile and lint ${skip}`);

  /** Runs bicep with no network at all where the machine allows it (as root: a network namespace of its own). */
  function runBicep(args: string[]) {
    const isolated = spawnSync('unshare', ['-n', 'bicep', ...args], { encoding: 'utf8' });
    return isolated.error || /unshare failed|Operation not permitted/.test(isolated.stderr) ? spawnSync('bicep', args, { encoding: 'utf8' }) : isolated;
  }

  it('when infra/main.bicep is built, then it compiles with no warning', { skip }, () => {
    const built = runBicep(['build', '--no-restore', 'infra/main.bicep', '--stdout']);
    assert.equal(built.status, 0, built.stderr);
    assert.equal(built.stderr.trim(), '', 'no warning');
    const template = JSON.parse(built.stdout) as { resources: Record<string, unknown> | unknown[]; outputs: Record<string, unknown> };
    for (const output of ['AZURE_FUNCTION_APP_NAME', 'AZURE_FUNCTION_APP_URL', 'AZURE_KEY_VAULT_URL', 'AZURE_MANAGED_IDENTITY_CLIENT_ID', 'EXOSEND_FEDERATED_ISSUER', 'EXOSEND_FEDERATED_SUBJECT', 'EXOSEND_FEDERATED_AUDIENCE']) {
      assert.ok(output in template.outputs, output);
    }
  });

  it('when infra/main.bicep is linted, then no rule complains', { skip }, () => {
    const linted = runBicep(['lint', 'infra/main.bicep']);
    assert.equal(linted.status, 0, linted.stderr);
    assert.equal(`${linted.stdout}${linted.stderr}`.trim(), '');
  });
});
