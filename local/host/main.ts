import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readSettingsFile, valuesNotInEnvironment } from '../../cli/settings-file.js';
import { removeSandboxSettings, writeSandboxSettings } from '../../cli/sandbox-settings.js';
import { resetRuntime } from '../../src/runtime/runtime.js';
import { startAzurite, type Azurite } from '../sandbox/azurite.js';
import {
  sandboxScenarios,
  scenarioSettings,
  startSandbox,
  type Sandbox,
  type SandboxScenarioName,
} from '../sandbox/index.js';
import { spawnWithParent } from '../../cli/spawn-with-parent.js';
import { loadOrCreateCertificateAuthority } from '../sandbox/pki.js';
import { connectStorage } from '../../src/storage/storage.js';
import { StatusStore } from '../../src/queue/status-store.js';
import { printBanner } from './banner.js';
import { applySandboxCallers } from '../sandbox/apply-callers.js';
import { sampleCallerToken, type SampleToken } from '../sandbox/sample-token.js';
import { readCallerAuth } from '../../src/config/caller-auth.js';
import { createConsole } from '../console/console-server.js';
import { DeadLetters } from '../console/dead-letters.js';
import { SuppressionList } from '../../src/queue/suppression-list.js';
import { createHttpHost } from './http-host.js';
import { readStorageConnection } from '../../src/config/storage-connection.js';
import { startQueueHost } from './queue-host.js';
import { whenParentGone } from './parent-watch.js';
import { loadRegistrations, resolveSettings, runTerminateHooks } from './registrations.js';
import { startTimers } from './timers.js';

const usage = `usage: npm start [-- --scenario NAME] [--sandbox] [--settings FILE] [--port N]

Runs the whole function app on 127.0.0.1 without the Functions Core Tools.
Sandbox mode (the default without real settings): stand-ins for Entra ID, Key Vault and Exchange,
and Azurite; accepted mail lands in .exosend/outbox as .eml files.
Real mode: when local.settings.json (or --settings FILE) names a tenant, the app talks to Azure
and Exchange Online for real.

  --scenario NAME   make the sandbox reproduce a failure (below)
  --sandbox         sandbox mode even when local.settings.json exists
  --settings FILE   app settings to use (default local.settings.json)
  --port N          HTTP port (default EXOSEND_PORT or 7071; 0 picks a free one)
State lives in EXOSEND_STATE_DIR (default .exosend).

Scenarios:
${Object.entries(sandboxScenarios)
  .map(([name, { description }]) => `  ${name.padEnd(34)} ${description}`)
  .join('\n')}`;

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    sandbox: { type: 'boolean' },
    settings: { type: 'string' },
    port: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log(usage);
  process.exit(0);
}

const stateDir = resolve(process.env['EXOSEND_STATE_DIR'] ?? '.exosend');
const defaultStateDir = stateDir === resolve('.exosend');
const settingsFile = args.settings ?? 'local.settings.json';
const fileSettings = existsSync(settingsFile) ? readSettingsFile(settingsFile) : {};
const sandboxMode =
  args.sandbox === true ||
  args.scenario !== undefined ||
  !(fileSettings['EXOSEND_TENANT_ID'] ?? process.env['EXOSEND_TENANT_ID']);
if (args.scenario !== undefined && !(args.scenario in sandboxScenarios)) {
  console.error(`Unknown scenario "${args.scenario}". Known: ${Object.keys(sandboxScenarios).join(', ')}`);
  process.exit(2);
}

if (sandboxMode && process.env['EXOSEND_SANDBOX_CA_TRUSTED'] !== '1') {
  // Node reads NODE_EXTRA_CA_CERTS only at start: run again, trusting the sandbox CA as well
  process.exit(await runTrustingSandboxCa());
}

/**
 * Settings inherited from the shell that would point the sandbox at real Azure: credentials the
 * Azure SDKs pick up by themselves, real storage, real telemetry. The sandbox sets its own.
 */
const realAzureSetting = /^(AZURE_|MSI_|IDENTITY_|AzureWebJobs|APPLICATIONINSIGHTS_)/;

const log = (level: string, name: string, message: string) =>
  (level === 'error' || level === 'warning' ? console.error : console.log)(
    `[${new Date().toISOString()}] [${name}] ${message}`,
  );

let sandbox: Sandbox | undefined;
let azurite: Azurite | undefined;
if (sandboxMode) {
  for (const name of Object.keys(process.env)) if (realAzureSetting.test(name)) delete process.env[name];
  sandbox = await startSandbox({ dir: join(stateDir, 'sandbox'), outboxDir: join(stateDir, 'outbox') });
  if (args.scenario) sandboxScenarios[args.scenario as SandboxScenarioName](sandbox);
  Object.assign(process.env, sandbox.settings, {
    APPLICATIONINSIGHTS_CONNECTION_STRING: sandbox.appInsights.connectionString,
    // the SDK's reports about itself go to Microsoft, not to the stand-in: the sandbox stays offline
    APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
    APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
  });
  // a certificate or federation scenario runs the app with that credential
  if (args.scenario) {
    for (const [name, value] of Object.entries(scenarioSettings(sandbox, args.scenario as SandboxScenarioName))) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  leaveDoctorSettings(sandbox, args.scenario ?? 'healthy');
  // Callers with Entra tokens as well as the function key, unless the shell says otherwise: the
  // banner's two curl lines both work, and the console (which calls the app with the key) with them.
  // `entra` alone would refuse the console's own calls; `key` would hide the callers the sandbox has.
  process.env['EXOSEND_CALLER_AUTH'] ||= 'both';
} else {
  Object.assign(process.env, valuesNotInEnvironment(fileSettings, process.env));
}
const storage = readStorageConnection(process.env);
if (
  sandboxMode ||
  !storage ||
  (storage.kind === 'connectionString' && /UseDevelopmentStorage=true/i.test(storage.connectionString))
) {
  mkdirSync(join(stateDir, 'azurite'), { recursive: true });
  azurite = await startAzurite({ location: join(stateDir, 'azurite') });
  process.env['AzureWebJobsStorage'] = azurite.connectionString;
}

const functionKey = process.env['EXOSEND_LOCAL_FUNCTION_KEY'] ?? persistentKey(join(stateDir, 'function-key'));
// with `both` the routes are anonymous at the host and exosend checks a presented key itself
// (src/config/caller-auth.ts): the local function key is that key, unless the settings name one
if (process.env['EXOSEND_CALLER_AUTH'] === 'both') process.env['EXOSEND_CALLER_KEY'] ||= functionKey;
const callerAuth = readCallerAuth(process.env).mode;
let bearer: SampleToken | undefined;
if (sandbox) {
  const scenarioName = (args.scenario ?? 'healthy') as SandboxScenarioName;
  await applySandboxCallers(sandboxScenarios[scenarioName].callers(sandbox), readStorageConnection(process.env)!);
  if (callerAuth !== 'key') bearer = await sampleCallerToken(sandbox);
}
const registrations = await loadRegistrations('.');
const mode = sandboxMode
  ? `sandbox${args.scenario ? ` (scenario: ${args.scenario}${process.env['EXOSEND_CREDENTIAL'] ? `, EXOSEND_CREDENTIAL=${process.env['EXOSEND_CREDENTIAL']}` : ''})` : ''}`
  : `real (settings from ${existsSync(settingsFile) ? settingsFile : 'the environment'})`;
const intakeQueue = registrations.queues[0] && resolveSettings(registrations.queues[0].queueName);
const storageConnection = readStorageConnection(process.env);
const queueStorage = intakeQueue && storageConnection ? connectStorage(storageConnection, intakeQueue) : undefined;
const baseUrl = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const localConsole = createConsole({
  baseUrl,
  functionKey,
  mode,
  registrations,
  sandbox,
  scenario: args.scenario ?? 'healthy',
  scenarioSwitched: (name) => sandbox && leaveDoctorSettings(sandbox, name),
  deadLetters: queueStorage && new DeadLetters(queueStorage, new StatusStore(queueStorage.records)),
  suppressions: queueStorage && new SuppressionList(queueStorage.suppressions),
  storage: storageConnection,
  records: queueStorage && new StatusStore(queueStorage.records),
  log,
});
const server = createHttpHost({ functions: registrations.http, functionKey, log, fallback: localConsole });
server.listen(Number(args.port ?? process.env['EXOSEND_PORT'] ?? 7071), '127.0.0.1');
await once(server, 'listening');
const queues = await startQueueHost(registrations.queues, log);
const timers = startTimers(registrations.timers, log);

printBanner({
  mode,
  baseUrl: baseUrl(),
  functionKey,
  registrations,
  outboxDir: sandbox ? join(stateDir, 'outbox') : undefined,
  storage: azurite?.connectionString,
  doctor: sandbox
    ? `${defaultStateDir ? '' : `EXOSEND_STATE_DIR=${shellQuoted(stateDir)} `}npx exosend doctor --sandbox`
    : undefined,
  callerAuth,
  bearer: bearer && {
    token: bearer.token,
    callerName: bearer.caller.displayName,
    appId: bearer.caller.clientId,
    expiresOn: bearer.expiresOn,
  },
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('Stopping exosend...');
  timers.stop();
  server.closeAllConnections();
  server.close();
  await queues.stop();
  // as the worker does when the host stops it: the app gives its sessions' leases back
  await runTerminateHooks(registrations);
  // the app's own runtime (the entry's module), and this module's
  (registrations.entry['resetRuntime'] as (() => void) | undefined)?.();
  resetRuntime();
  removeSandboxSettings(stateDir, process.pid);
  await sandbox?.close();
  await azurite?.close();
  console.log('Stopped.');
  process.exit(0);
};
// `on`, not `once`: Ctrl-C reaches this process twice (from the terminal and from the parent), and a
// second signal without a listener would end it before it has stopped what it started
// SIGHUP: the terminal went away; the process that started this one going also ends as SIGTERM
// (cli/exit-with-parent.ts)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop());
whenParentGone(() => void stop());

/**
 * The settings that point at the stand-ins, as the app runs with them now (the scenario's
 * credential included), for `exosend doctor --sandbox`: it runs in a process of its own.
 */
function leaveDoctorSettings(s: Sandbox, scenario: string): void {
  const names = new Set([
    ...Object.keys(s.settings),
    ...Object.keys(sandboxScenarios).flatMap((n) => Object.keys(scenarioSettings(s, n as SandboxScenarioName))),
  ]);
  const values = Object.fromEntries(
    [...names].flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]])),
  );
  writeSandboxSettings(stateDir, values, { ca: s.ca.path, pid: process.pid, scenario });
}

function shellQuoted(text: string): string {
  return /^[\w./:@%+=-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function persistentKey(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(join(file, '..'), { recursive: true });
  const key = randomBytes(24).toString('base64url');
  writeFileSync(file, key, { mode: 0o600 });
  return key;
}

async function runTrustingSandboxCa(): Promise<number> {
  const ca = await loadOrCreateCertificateAuthority(join(stateDir, 'sandbox'));
  const inherited = process.env['NODE_EXTRA_CA_CERTS'];
  const bundle = join(stateDir, 'sandbox', 'trust-bundle.pem');
  const extra =
    inherited && existsSync(inherited) && resolve(inherited) !== resolve(bundle) ? readFileSync(inherited, 'utf8') : '';
  writeFileSync(bundle, `${extra}\n${ca.certPem}`);
  // stops with this process, however it ends (a SIGKILL too)
  const child = spawnWithParent(process.argv[1]!, process.argv.slice(2), {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: bundle, EXOSEND_SANDBOX_CA_TRUSTED: '1' },
  });
  // Ctrl-C reaches the whole process group; a lone signal to this process is passed on
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  whenParentGone(() => child.kill('SIGTERM'));
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? 1;
}
