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
run(process.execPath, [
  'scripts/bundle.mjs',
  '--entry',
  'src/functions/send.ts',
  '--outfile',
  'dist/bench/bundles/send.mjs',
]);
// the deployed artefact, unpacked as the host would: the cold-start table loads its entry
run(process.execPath, ['scripts/stage.mjs']);
run(process.execPath, ['scripts/package.mjs']);
{
  const { mkdirSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  const { unzipSync } = await import('fflate');
  rmSync('dist/bench/deployed', { recursive: true, force: true });
  let bytes = 0;
  for (const [name, content] of Object.entries(unzipSync(readFileSync('dist/exosend.zip')))) {
    mkdirSync(dirname(join('dist/bench/deployed', name)), { recursive: true });
    writeFileSync(join('dist/bench/deployed', name), content);
    bytes += content.length;
  }
  writeFileSync('dist/bench/deployed.size', String(bytes));
}

const { loadOrCreateCertificateAuthority } = await import('../dist/local/sandbox/pki.js');
const caDir = join('.exosend', 'sandbox');
await loadOrCreateCertificateAuthority(caDir);

run(process.execPath, ['dist/bench/main.js', ...process.argv.slice(2)], {
  ...process.env,
  NODE_EXTRA_CA_CERTS: join(caDir, 'ca.pem'),
});
