import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseTelemetryAuthentication } from '../src/config/load-config.js';
import { budgetTable } from '../src/budget/table-budget.js';
import { deliveryEventNames } from '../src/telemetry/delivery-events.js';
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
  '73c42c96-874c-492b-b04d-ab87d138a893': 'Log Analytics Reader',
};

/** What each data-plane client the app's code uses needs from the identity it runs as. */
const rolesForClients: { uses: RegExp; what: string; roles: string[] }[] = [
  { uses: /from '@azure\/storage-queue'/, what: 'queues', roles: ['Storage Queue Data Contributor'] },
  { uses: /from '@azure\/data-tables'/, what: 'tables', roles: ['Storage Table Data Contributor'] },
  {
    uses: /from '@azure\/storage-blob'/,
    what: 'blobs',
    roles: ['Storage Blob Data Owner', 'Storage Blob Data Contributor'],
  },
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
  if (name === 'APPLICATIONINSIGHTS_CONNECTION_STRING')
    return 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/';
  if (name === 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING')
    return 'ClientId=6e7c0f43-55a3-4c1a-9f0e-3f5f7c1e2a10;Authorization=AAD';
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
    // telemetry reads it from the environment itself (src/telemetry/telemetry.ts), with this parse
    assert.deepEqual(parseTelemetryAuthentication(env['APPLICATIONINSIGHTS_AUTHENTICATION_STRING']!), {
      clientId: '6e7c0f43-55a3-4c1a-9f0e-3f5f7c1e2a10',
    });
    assert.ok(config.managedIdentityClientId, 'AZURE_CLIENT_ID names the identity that reads the vault');
    for (const name of [
      'EXOSEND_CREDENTIAL',
      'EXOSEND_CLIENT_CERTIFICATE_NAME',
      'EXOSEND_MAILBOXES',
      'EXOSEND_RECIPIENTS_PER_DAY',
    ]) {
      assert.ok(settings.has(name), `${name} is set (round two's settings)`);
    }
    for (const unused of [
      'FUNCTIONS_WORKER_RUNTIME',
      'WEBSITE_RUN_FROM_PACKAGE',
      'AzureWebJobsStorage',
      'WEBSITE_CONTENTSHARE',
      'APPINSIGHTS_INSTRUMENTATIONKEY',
    ]) {
      assert.equal(settings.has(unused), false, `${unused} is not a setting Flex Consumption or this app uses`);
    }
  });

  it('when the code calls a data plane (queues, tables, blobs, the vault, telemetry), then the identity holds a role for it', () => {
    const rbac = bicep('app/rbac.bicep');
    const roleIds = Object.fromEntries([...rbac.matchAll(/^\s*(\w+): '([0-9a-f-]{36})'/gm)].map((m) => [m[1]!, m[2]!]));
    const assignedToApp = [
      ...rbac.matchAll(/roleDefinitions', roles\.(\w+)\)\n\s*principalId: identityPrincipalId/g),
    ].map((m) => builtInRoles[roleIds[m[1]!]!]);
    const sources = appSources();
    const needed = rolesForClients.filter((client) => client.uses.test(sources));
    assert.ok(needed.length >= 5, `the code's clients were found: ${needed.map((n) => n.what).join(', ')}`);
    for (const client of needed) {
      assert.ok(
        client.roles.some((role) => assignedToApp.includes(role)),
        `${client.what}: none of ${client.roles.join(' / ')} is assigned to the app's identity`,
      );
    }
    assert.ok(!assignedToApp.includes(undefined), 'every role assigned is a known built-in role');
  });

  it('when the template names a queue, table or container, then it is the one the code uses', () => {
    const storage = bicep('app/storage.bicep');
    const { queue } = loadConfig({
      ...Object.fromEntries([...appSettings()].map(([name, literal]) => [name, literal ?? sampleValue(name)])),
    });
    assert.equal(appSettings().get('EXOSEND_QUEUE'), queue);
    assert.match(storage, new RegExp(`param queueName string = '${queue}'`));
    assert.match(storage, /resource poison 'queues' = \{ name: '\$\{queueName\}-poison' \}/);
    assert.match(storage, new RegExp(`resource records 'tables' = \\{ name: '${recordsTable}' \\}`));
    assert.match(storage, new RegExp(`resource requests 'containers' = \\{ name: '${requestsContainer}' \\}`));
    assert.match(storage, new RegExp(`resource budget 'tables' = \\{ name: '${budgetTable}' \\}`));
  });

  it('when an alert query names telemetry, then the code emits that name, and the eight rules are there', () => {
    const alerts = bicep('app/alerts.bicep');
    const emitted = new Set<string>([
      availabilityTestName,
      ...mailEventKinds.map((kind) => `exosend.${kind}`),
      ...deliveryEventNames,
    ]);
    const queries = [...alerts.matchAll(/query: '((?:[^'\\]|\\.)*)'/g)].map((m) => m[1]!);
    assert.equal(queries.length, 8);
    const named = queries.flatMap((q) => [...q.matchAll(/"(exosend[^"]*)"/g)].map((m) => m[1]!));
    assert.deepEqual(
      named.filter((name) => !emitted.has(name)),
      [],
      'an alert names telemetry the code does not emit',
    );
    assert.ok(
      queries.some((q) => q.includes(`name == "${availabilityTestName}" and ${typeProofFailure}`)),
      'the health check failing',
    );
    assert.ok(
      /name: 'health-check-silent'[\s\S]*?operator: 'LessThan'\n\s*threshold: 1/.test(alerts),
      'the health check silent',
    );
    assert.ok(
      queries.some((q) => q.includes('"exosend.dead-lettered"')),
      'any dead letter',
    );
    assert.ok(
      queries.some((q) => q.includes('"exosend.retry"')),
      'transient failures',
    );
    assert.ok(
      queries.some((q) => q.includes('"exosend.bounce"') && q.includes('bounces * 20 >= sent')),
      'a bounce rate that puts the mailbox at risk',
    );
    assert.ok(
      queries.some((q) => q.includes('name == "exosend.reader" and tostring(customDimensions.ok) =~ "false"')),
      'the reader failing',
    );
    // issue 22: one function-key holder spent the mailbox's day while health read `healthy`, and nothing alerted
    assert.ok(
      queries.some((q) =>
        q.includes(`name == "${availabilityTestName}" and isnotempty(tostring(customDimensions.budgetSpent))`),
      ),
      'a mailbox whose day is spent',
    );
    // issue 22: callers kept a mailbox's minute spent (429 MINUTE_LIMIT_REACHED, queued mail deferred) while health read `healthy`
    assert.ok(
      queries.some((q) =>
        q.includes(`name == "${availabilityTestName}" and isnotempty(tostring(customDimensions.minuteSaturated))`),
      ),
      'a mailbox whose minute stays spent',
    );
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

/**
 * How a query may test `success`: a string in the classic availabilityResults, a bool in the
 * workspace's AppAvailabilityResults (convert-classic-resource.md), so only through tostring() and a
 * case-blind in~ that holds under both (infra/app/alerts.bicep says why).
 */
const typeProofFailure = 'tostring(success) in~ ("false", "0")';

/** The alert rules' queries, as the KQL text the rules carry. */
function alertQueries(): string[] {
  return [...bicep('app/alerts.bicep').matchAll(/query: '((?:[^'\\]|\\.)*)'/g)].map((m) => m[1]!.replace(/\\n/g, '\n'));
}

/** Each top-level `resource name 'type@version' = [if (cond)] ...` of a Bicep file, up to its closing line (`}` or `]`). */
function resources(file: string): { name: string; type: string; condition?: string; body: string }[] {
  return [...bicep(file).matchAll(/^resource (\w+) '([^@']+)@[^']+' = (?:if \((.*)\) )?([\s\S]*?)\n[}\]]$/gm)].map(
    (m) => ({
      name: m[1]!,
      type: m[2]!,
      ...(m[3] ? { condition: m[3] } : {}),
      body: m[4]!,
    }),
  );
}

/** The postprovision hook's script in azure.yaml (the block under `run: |`). */
function postprovisionScript(): string {
  const yaml = readFileSync('azure.yaml', 'utf8');
  const block = /^ {2}postprovision:\n(?: {4}.*\n)*? {4}run: \|\n((?: {6}.*\n|\n)+)/m.exec(yaml)?.[1];
  assert.ok(block, 'azure.yaml has a postprovision hook with an inline run: | script');
  return block
    .split('\n')
    .map((line) => line.slice(6))
    .join('\n');
}

function runPostprovision(env: Record<string, string>) {
  return spawnSync('sh', ['-c', postprovisionScript()], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
}

/** `npm run bench:memory` and docs/instance-memory.md: a worker's peak RSS with n requests at the 35 MB limit in flight. */
const measuredPeakMB = (inFlight: number) => 324 + 131 * (inFlight - 1);
/** Flex Consumption's instance memory sizes (Microsoft Learn, "Azure Functions Flex Consumption plan hosting", "Instance sizes"). */
const flexInstanceSizesMB = [512, 2048, 4096];

describe('what a reviewer asks before production (infra/ read as text)', () => {
  it('when an alert rule runs its query, then it runs as a managed identity that holds Log Analytics Reader on the workspace and on Application Insights', () => {
    const alerts = bicep('app/alerts.bicep');
    const rules = resources('app/alerts.bicep').filter((r) => r.type === 'Microsoft.Insights/scheduledQueryRules');
    assert.ok(rules.length >= 1, 'the alert rules are declared');
    for (const rule of rules) {
      // a rule without an identity runs as whoever last edited it, and is disabled when that person loses access
      const identity = /\n\s*identity: \{\n\s*type: '(UserAssigned|SystemAssigned)'/.exec(rule.body);
      assert.ok(identity, `${rule.name}: a log search alert rule without a managed identity`);
      if (identity[1] === 'UserAssigned')
        assert.match(rule.body, /userAssignedIdentities: \{ '\$\{identityId\}': \{\} \}/);
      assert.match(
        rule.body,
        /dependsOn: \[readWorkspace, readApplicationInsights\]/,
        `${rule.name}: created only once its identity can read the logs`,
      );
    }
    const roleId = /var logAnalyticsReader = '([0-9a-f-]{36})'/.exec(alerts)?.[1];
    assert.equal(builtInRoles[roleId ?? ''], 'Log Analytics Reader');
    const readers = resources('app/alerts.bicep').filter(
      (r) =>
        r.type === 'Microsoft.Authorization/roleAssignments' &&
        /roles?Definitions', logAnalyticsReader\)\n\s*principalId: identityPrincipalId/.test(r.body),
    );
    assert.deepEqual(readers.map((r) => /scope: (\w+)/.exec(r.body)?.[1]).sort(), ['applicationInsights', 'workspace']);
    const main = readFileSync('infra/main.bicep', 'utf8');
    assert.match(
      main,
      /identityId: alertsIdentity\.outputs\.resourceId\n\s*identityPrincipalId: alertsIdentity\.outputs\.principalId/,
      'the rules query as the identity that holds the roles',
    );
  });

  it("when a query tests an availability result's success, then it does so in a way that type-checks whether success is a string or a bool", () => {
    const queries = alertQueries();
    assert.ok(queries.some((q) => q.includes(typeProofFailure)));
    for (const query of queries) {
      const unsafe = query
        .split(typeProofFailure)
        .join('')
        .match(/\bsuccess\b/i);
      assert.equal(unsafe, null, `compares success in a way only one of its types allows: ${query}`);
    }
  });

  it('when the environment is torn down and provisioned again under its name, then the vault does not keep the name taken', () => {
    const main = readFileSync('infra/main.bicep', 'utf8');
    const vault = bicep('app/vault.bicep');
    // purge protection holds a deleted vault's name for 90 days with no purge: off by default, so
    // `azd down --purge` frees it; on, the salt gives the environment a new name
    assert.match(main, /@allowed\(\['true', 'false'\]\)\nparam exosendVaultPurgeProtection string = 'false'/);
    assert.match(
      vault,
      /enablePurgeProtection: purgeProtection \? true : null/,
      'never a literal true, never false (the vault API refuses false)',
    );
    assert.match(
      main,
      /var vaultToken = empty\(exosendVaultNameSalt\) \? resourceToken : toLower\(uniqueString\(resourceToken, exosendVaultNameSalt\)\)/,
      'an empty salt keeps the name existing environments have',
    );
    assert.match(main, /name: '\$\{abbrs\.keyVaultVaults\}\$\{vaultToken\}'/);
    const parameters = readFileSync('infra/main.parameters.json', 'utf8');
    assert.match(
      parameters,
      /"exosendVaultPurgeProtection": \{ "value": "\$\{EXOSEND_VAULT_PURGE_PROTECTION=false\}" \}/,
    );
    assert.match(parameters, /"exosendVaultNameSalt": \{ "value": "\$\{EXOSEND_VAULT_NAME_SALT=\}" \}/);
  });

  it('when the deploying user runs exosend doctor, then for a secret and for a certificate they hold a role that reads the secret the doctor reads', () => {
    // the doctor reads the vault as the app does: a certificate through its secret (getSecret)
    assert.match(readFileSync('src/auth/secret-source.ts', 'utf8'), /this\.client\.getSecret\(/);
    const rbac = bicep('app/rbac.bicep');
    const roleIds = Object.fromEntries([...rbac.matchAll(/^\s*(\w+): '([0-9a-f-]{36})'/gm)].map((m) => [m[1]!, m[2]!]));
    const readsSecrets = ['Key Vault Secrets User', 'Key Vault Secrets Officer'];
    for (const credential of ['secret', 'certificate']) {
      const granted = resources('app/rbac.bicep')
        .filter((r) => /principalId: deployerPrincipalId/.test(r.body))
        // the condition is Bicep from this repository, as a JavaScript expression once its two names are replaced
        .filter(
          (r) =>
            r.condition === undefined ||
            // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the repository's own Bicep condition, not input
            Function(
              `return ${r.condition.replace(/!empty\(deployerPrincipalId\)/g, 'true').replace(/\bcredential\b/g, JSON.stringify(credential))}`,
            )() === true,
        )
        .map((r) => builtInRoles[roleIds[/roles\.(\w+)\)/.exec(r.body)?.[1] ?? ''] ?? '']);
      assert.ok(
        granted.some((role) => readsSecrets.includes(role ?? '')),
        `${credential}: the deploying user holds ${granted.join(', ')}, none of which reads a secret`,
      );
    }
  });

  it("when the vault and the function app log, then their audit events and the host's logs go to the Log Analytics workspace", () => {
    const settings = resources('app/diagnostics.bicep').filter(
      (r) => r.type === 'Microsoft.Insights/diagnosticSettings',
    );
    const byScope = Object.fromEntries(settings.map((r) => [/scope: (\w+)/.exec(r.body)?.[1], r.body]));
    assert.match(byScope['vault'] ?? '', /category: 'AuditEvent', enabled: true/);
    assert.match(byScope['site'] ?? '', /category: 'FunctionAppLogs', enabled: true/);
    for (const body of settings.map((r) => r.body)) assert.match(body, /workspaceId: logAnalyticsId/);
    assert.match(
      readFileSync('infra/main.bicep', 'utf8'),
      /module diagnostics 'app\/diagnostics\.bicep'[\s\S]*?logAnalyticsId: monitoring\.outputs\.logAnalyticsId/,
    );
  });

  it('when the function app is published to, then basic-auth publishing (FTP and SCM) is off', () => {
    const api = bicep('app/api.bicep');
    for (const kind of ['ftp', 'scm']) {
      assert.match(
        api,
        new RegExp(
          `resource \\w+ 'basicPublishingCredentialsPolicies' = \\{\\n\\s*name: '${kind}'\\n\\s*properties: \\{ allow: false \\}`,
        ),
        kind,
      );
    }
  });

  it('when azd has provisioned, then the postprovision hook prints the steps for the credential kind chosen, and no secret step in federated mode', () => {
    const env = {
      AZURE_KEY_VAULT_URL: 'https://kv-exosend.vault.azure.net/',
      AZURE_KEY_VAULT_NAME: 'kv-exosend',
      EXOSEND_CLIENT_ID: '6e7c0f43-55a3-4c1a-9f0e-3f5f7c1e2a10',
      EXOSEND_FEDERATED_ISSUER: 'https://login.microsoftonline.com/tenant/v2.0',
      EXOSEND_FEDERATED_SUBJECT: '0d3c2b1a-0000-4000-8000-000000000001',
      EXOSEND_FEDERATED_AUDIENCE: 'api://AzureADTokenExchange',
    };
    const secret = runPostprovision({ ...env, EXOSEND_CREDENTIAL: 'secret' });
    assert.equal(secret.status, 0, secret.stderr);
    assert.match(secret.stdout, /npx exosend secret set --vault "https:\/\/kv-exosend\.vault\.azure\.net\/"/);
    const certificate = runPostprovision({ ...env, EXOSEND_CREDENTIAL: 'certificate' });
    assert.match(
      certificate.stdout,
      /az keyvault certificate create --vault-name "kv-exosend" --name "exosend-client-certificate"/,
    );
    assert.match(
      certificate.stdout,
      /az ad app credential reset --id "6e7c0f43-55a3-4c1a-9f0e-3f5f7c1e2a10" --keyvault "kv-exosend"/,
    );
    assert.doesNotMatch(certificate.stdout, /secret set/);
    const federated = runPostprovision({ ...env, EXOSEND_CREDENTIAL: 'federated' });
    assert.equal(federated.status, 0, federated.stderr);
    assert.match(
      federated.stdout,
      /"issuer":"https:\/\/login\.microsoftonline\.com\/tenant\/v2\.0","subject":"0d3c2b1a-0000-4000-8000-000000000001","audiences":\["api:\/\/AzureADTokenExchange"\]/,
    );
    assert.doesNotMatch(
      federated.stdout,
      /secret|exosend doctor/i,
      'a federated credential has no secret to store and cannot be tried from a laptop',
    );
    const unknown = runPostprovision({ ...env, EXOSEND_CREDENTIAL: 'password' });
    assert.notEqual(unknown.status, 0);
    // every value the hook reads is one azd has: an output of main.bicep or a value the parameters file maps
    const main = readFileSync('infra/main.bicep', 'utf8');
    const known = new Set(
      [
        ...main.matchAll(/^output (\w+) /gm),
        ...readFileSync('infra/main.parameters.json', 'utf8').matchAll(/\$\{(\w+)/g),
      ].map((m) => m[1]!),
    );
    assert.ok(
      known.has('EXOSEND_CREDENTIAL'),
      'main.bicep outputs the credential kind, so the hook sees the default too',
    );
    const read = [...postprovisionScript().matchAll(/\$\{?([A-Z][A-Z0-9_]+)/g)]
      .map((m) => m[1]!)
      .filter((name) => name !== 'EXOSEND_CLIENT_CERTIFICATE_NAME');
    assert.deepEqual(
      read.filter((name) => !known.has(name)),
      [],
    );
  });

  it('when the instance memory is chosen, then it is the smallest Flex Consumption size that holds the measured peak of what one instance may hold at once', () => {
    const api = bicep('app/api.bicep');
    const memory = Number(/instanceMemoryMB: (\d+)/.exec(api)?.[1]);
    assert.ok(flexInstanceSizesMB.includes(memory), `${memory} MB is not a Flex Consumption size`);
    const http = Number(/http: \{ perInstanceConcurrency: (\d+) \}/.exec(api)?.[1]);
    const queues = (
      JSON.parse(readFileSync('host.json', 'utf8')) as {
        extensions: { queues: { batchSize: number; newBatchThreshold: number } };
      }
    ).extensions.queues;
    // the host holds up to batchSize + newBatchThreshold queue messages at once; a claim-checked one can be 35 MB
    const inFlight = Math.max(http, queues.batchSize + queues.newBatchThreshold);
    const needed = measuredPeakMB(inFlight);
    assert.equal(
      memory,
      flexInstanceSizesMB.find((size) => size >= needed),
      `${inFlight} requests at the size limit need about ${needed} MB`,
    );
  });
});

interface CompiledResource {
  type: string;
  identity?: { type?: unknown };
  properties?: { allow?: unknown; logs?: { category: string }[]; template?: CompiledTemplate };
}
interface CompiledTemplate {
  resources: Record<string, CompiledResource> | CompiledResource[];
}

/** Every resource of a compiled ARM template, with those of its nested module deployments. */
function compiledResources(template: CompiledTemplate): CompiledResource[] {
  return Object.values(template.resources).flatMap((r) => [
    r,
    ...(r.properties?.template ? compiledResources(r.properties.template) : []),
  ]);
}

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
    return isolated.error || /unshare failed|Operation not permitted/.test(isolated.stderr)
      ? spawnSync('bicep', args, { encoding: 'utf8' })
      : isolated;
  }

  it('when infra/main.bicep is built, then it compiles with no warning', { skip }, () => {
    const built = runBicep(['build', '--no-restore', 'infra/main.bicep', '--stdout']);
    assert.equal(built.status, 0, built.stderr);
    assert.equal(built.stderr.trim(), '', 'no warning');
    const template = JSON.parse(built.stdout) as CompiledTemplate & { outputs: Record<string, unknown> };
    for (const output of [
      'AZURE_FUNCTION_APP_NAME',
      'AZURE_FUNCTION_APP_URL',
      'AZURE_KEY_VAULT_URL',
      'AZURE_MANAGED_IDENTITY_CLIENT_ID',
      'EXOSEND_FEDERATED_ISSUER',
      'EXOSEND_FEDERATED_SUBJECT',
      'EXOSEND_FEDERATED_AUDIENCE',
      'EXOSEND_CREDENTIAL',
    ]) {
      assert.ok(output in template.outputs, output);
    }
    // what Azure Resource Manager receives, modules included
    const deployed = compiledResources(template);
    const rules = deployed.filter((r) => r.type === 'Microsoft.Insights/scheduledQueryRules');
    assert.equal(rules.length, 1, 'one copy loop of rules');
    for (const rule of rules)
      assert.match(
        String(rule.identity?.type),
        /^(UserAssigned|SystemAssigned)$/,
        'every log search alert rule has a managed identity',
      );
    const logs = deployed
      .filter((r) => r.type === 'Microsoft.Insights/diagnosticSettings')
      .flatMap((r) => (r.properties?.logs ?? []).map((l) => l.category));
    assert.deepEqual(logs.sort(), ['AuditEvent', 'FunctionAppLogs']);
    const publishing = deployed.filter((r) => r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    assert.deepEqual(
      publishing.map((r) => r.properties?.allow),
      [false, false],
    );
  });

  it('when infra/main.bicep is linted, then no rule complains', { skip }, () => {
    const linted = runBicep(['lint', 'infra/main.bicep']);
    assert.equal(linted.status, 0, linted.stderr);
    assert.equal(`${linted.stdout}${linted.stderr}`.trim(), '');
  });
});
