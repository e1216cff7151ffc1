// The local console's page script: local/console/page/*.ts type-checked with the strict compiler
// against the DOM (its own tsconfig: the main one is Node's), then bundled by esbuild into the one
// file the console serves, dist/local/console/page/console.js. One file, not the modules as they
// are: the console serves a fixed list of three files, each behind its guard and its policy, and a
// new module needs no new route. `npm start`, `npm test` and `npm run build` run it; the deployed
// package never holds it (dist/local is outside dist/bundle).
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { writeOutputs } from './write-outputs.mjs';

const { status } = spawnSync(
  process.execPath,
  ['node_modules/typescript/bin/tsc', '-p', 'local/console/page/tsconfig.json'],
  { stdio: 'inherit' },
);
if (status !== 0) process.exit(status ?? 1);

const result = await build({
  entryPoints: ['local/console/page/console.ts'],
  outfile: 'dist/local/console/page/console.js',
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  // readable as it is served; the map, inline, shows DevTools the modules (the policy needs no route for it)
  minify: false,
  sourcemap: 'inline',
  write: false,
  logLevel: 'warning',
});

await writeOutputs(result.outputFiles);
