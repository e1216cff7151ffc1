// `prepare` (npm install / npm ci): builds the tsc output and the bundle, so that `npx exosend ...`
// works right after an install. A production install (`npm ci --omit=dev`) has neither TypeScript
// nor esbuild and must still succeed: it gets the deployable build from `npm run package`, not from
// here, so this step says so and skips. Any other build failure still fails the install.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const missing = ['typescript', 'esbuild'].filter((name) => {
  try {
    require.resolve(`${name}/package.json`);
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0) {
  console.log(
    `exosend prepare: build skipped, ${missing.join(' and ')} not installed (a production install; \`npm run package\` builds what is deployed)`,
  );
  process.exit(0);
}
for (const args of [[require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], ['scripts/bundle.mjs']]) {
  const { status } = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
