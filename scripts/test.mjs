// `npm test`: builds, makes sure the sandbox CA exists, and runs every test file with the CA
// trusted. Node reads NODE_EXTRA_CA_CERTS only at process start, so it is set here, for the runner
// and the test processes it spawns. When they pass, the secret check reads everything the app said
// in all of them, and everything every process printed (test/secrets-never-leak.check.ts).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const run = (command, args, env = process.env) => {
  const { status } = spawnSync(command, args, { stdio: 'inherit', env });
  if (status !== 0) process.exit(status ?? 1);
};

run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
// the entry the host loads (package.json "main"): the tests that learn the app's registrations import it
run(process.execPath, ['scripts/bundle.mjs']);
// the console's page (local/console/page/*.ts, for the browser): its own type check, and its bundle
run(process.execPath, ['scripts/console-page.mjs']);

const { loadOrCreateCertificateAuthority } = await import('../dist/local/sandbox/pki.js');
const caDir = join('.exosend', 'sandbox');
await loadOrCreateCertificateAuthority(caDir);

// test/harness.ts writes there (test/observed.ts); what an earlier run left would be checked again
const observedDir = join('.exosend', 'test-observed');
rmSync(observedDir, { recursive: true, force: true });

const only = process.argv.slice(2);
// a compiled test whose source was renamed or removed must not run
const compiled = (suffix) =>
  readdirSync('dist/test')
    .filter((f) => f.endsWith(suffix) && existsSync(join('test', f.replace(/\.js$/, '.ts'))))
    .map((f) => join('dist/test', f));
const files = compiled('.test.js').filter((f) => only.length === 0 || only.some((name) => f.includes(name)));
// the tests set every setting they need; one inherited from the shell (a real tenant's, a CI's
// AZURE_CLIENT_ID, a real telemetry connection string) would bend them, or reach the internet
const inherited = /^(AZURE_|MSI_|IDENTITY_|AzureWebJobs|APPLICATIONINSIGHTS_|EXOSEND_)/;
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !inherited.test(name)));
env.NODE_EXTRA_CA_CERTS = join(caDir, 'ca.pem');

// The runner's output holds every test process's stdout and stderr (the TAP reporter passes them on
// as comments): shown as it comes, and kept for the secret check.
mkdirSync(observedDir, { recursive: true });
const runnerOutput = join(observedDir, 'runner.output.txt');
writeFileSync(runnerOutput, '');
writeFileSync(join(observedDir, 'suite.json'), JSON.stringify({ full: only.length === 0, files }));
// three files at once on two cores: most of a test's time is waiting (budget windows, leases, timers),
// and the whole suite ran in 4 min 24 s with 3 against 5 min 0 s with 2 (2026-12-06, all passing)
const runner = spawn(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=3', ...files], {
  env,
  stdio: ['ignore', 'pipe', 'pipe'],
});
for (const [stream, echo] of [
  [runner.stdout, process.stdout],
  [runner.stderr, process.stderr],
]) {
  stream.on('data', (chunk) => {
    echo.write(chunk);
    appendFileSync(runnerOutput, chunk);
  });
}
// a Ctrl-C reaches the runner through the process group; a lone signal to this process is passed on
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => runner.kill(signal));
const [code] = await once(runner, 'close');
if (code !== 0) process.exit(code ?? 1);

{
  const checks = compiled('.check.js');
  // `node --test` with no file would go looking for tests of its own
  if (checks.length === 0) throw new Error('no compiled *.check.js in dist/test: the secret check is missing');
  run(process.execPath, ['--test', ...checks], env);
}
