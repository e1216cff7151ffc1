// `npm run bench [-- --quick]`: builds (tsc and the bundle the Functions host loads), makes sure the
// sandbox CA exists, and runs bench/main.ts with the CA trusted. Node reads NODE_EXTRA_CA_CERTS only
// at process start, so it is set here, for the benchmark and the fresh workers it spawns.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const run = (command, args, env = process.env) => {
  const { status } = spawnSync(command, args, { stdio: 'inherit', env });
  if (status !== 0) process.exit(status ?? 1);
};

run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
run(process.execPath, ['scripts/bundle.mjs']);
// a reference for the cold-start table: the HTTP send trigger bundled alone
run(process.execPath, ['scripts/bundle.mjs', '--entry', 'src/functions/send.ts', '--outfile', 'dist/bench/bundles/send.mjs']);

const { loadOrCreateCertificateAuthority } = await import('../dist/src/sandbox/pki.js');
const caDir = join('.exosend', 'sandbox');
await loadOrCreateCertificateAuthority(caDir);

run(process.execPath, ['dist/bench/main.js', ...process.argv.slice(2)], {
  ...process.env,
  NODE_EXTRA_CA_CERTS: join(caDir, 'ca.pem'),
  // the telemetry SDK's reports about itself would go to Microsoft: the benchmark stays offline
  APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
  APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
});
