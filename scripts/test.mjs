// `npm test`: builds, makes sure the sandbox CA exists, and runs every test file with the CA
// trusted. Node reads NODE_EXTRA_CA_CERTS only at process start, so it is set here, for the runner
// and the test processes it spawns. When they pass, the secret check reads everything the app said
// in all of them (test/secrets-never-leak.check.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const run = (command, args, env = process.env) => {
  const { status } = spawnSync(command, args, { stdio: 'inherit', env });
  if (status !== 0) process.exit(status ?? 1);
};

run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
// the entry the host loads (package.json "main"): the tests that learn the app's registrations import it
run(process.execPath, ['scripts/bundle.mjs']);

const { loadOrCreateCertificateAuthority } = await import('../dist/src/sandbox/pki.js');
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

run(process.execPath, ['--test', '--test-concurrency=2', ...files], env);

// A selection of tests may drive no app at all: then there is nothing to check.
if (only.length > 0 && !existsSync(observedDir)) {
  console.log('secret check skipped: none of the selected tests drove the app');
} else {
  const checks = compiled('.check.js');
  // `node --test` with no file would go looking for tests of its own
  if (checks.length === 0) throw new Error('no compiled *.check.js in dist/test: the secret check is missing');
  run(process.execPath, ['--test', ...checks], env);
}
