// The deployable entry (package.json "main"): src/index.ts and everything it imports in one ESM
// file, which a cold start loads in about a third of the time the tsc output takes (bench/README.md). @azure/functions stays external (the host and the local host share its `app`).
// `node scripts/bundle.mjs [--entry src/x.ts] [--outfile dist/y.mjs]`; run after tsc.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { writeOutputs } from './write-outputs.mjs';

const { values: args } = parseArgs({ options: { entry: { type: 'string' }, outfile: { type: 'string' } } });
const outfile = args.outfile ?? 'dist/bundle/index.mjs';

const result = await build({
  entryPoints: [args.entry ?? 'src/index.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['@azure/functions'],
  // smaller to read and parse; names kept, since the Azure SDK names credentials by constructor.name
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: false,
  // CommonJS dependencies call require() for Node's built-ins, which an ES module lacks
  banner: { js: "import { createRequire as __exosendCreateRequire } from 'node:module'; const require = __exosendCreateRequire(import.meta.url);" },
  write: false,
  logLevel: 'warning',
});

await writeOutputs(result.outputFiles);

// The package's bin (package.json "bin") as tsc wrote it, without the executable bit: `npx exosend`
// in this folder runs that very file (npm links no bin for the root project, so `npm ci` never
// marks it), and a shell refuses a file it may not execute. Every build runs this script after tsc.
const { chmodSync, existsSync: binExists } = await import('node:fs');
const { bin } = JSON.parse(await readFile('package.json', 'utf8'));
for (const target of Object.values(bin ?? {})) if (binExists(target)) chmodSync(target, 0o755);
