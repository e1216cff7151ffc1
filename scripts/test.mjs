// `npm test`: builds, makes sure the sandbox CA exists, and runs every test file with the CA
// trusted. Node reads NODE_EXTRA_CA_CERTS only at process start, so it is set here, for the runner
// and the test processes it spawns.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const run = (command, args, env = process.env) => {
  const { status } = spawnSync(command, args, { stdio: 'inherit', env });
  if (status !== 0) process.exit(status ?? 1);
};

run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);

const { loadOrCreateCertificateAuthority } = await import('../dist/src/sandbox/pki.js');
const caDir = join('.exosend', 'sandbox');
await loadOrCreateCertificateAuthority(caDir);

const only = process.argv.slice(2);
const files = readdirSync('dist/test')
  .filter((f) => f.endsWith('.test.js'))
  // a compiled test whose source was renamed or removed must not run
  .filter((f) => existsSync(join('test', f.replace(/\.js$/, '.ts'))))
  .filter((f) => only.length === 0 || only.some((name) => f.includes(name)))
  .map((f) => join('dist/test', f));

run(process.execPath, ['--test', '--test-concurrency=2', ...files], {
  ...process.env,
  NODE_EXTRA_CA_CERTS: join(caDir, 'ca.pem'),
});
