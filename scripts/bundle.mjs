// The deployable entry (package.json "main"): src/index.ts and everything it imports statically in
// one ESM file, which a cold start loads in a fraction of the time the tsc output takes
// (docs/benchmark-results.md). What the app imports dynamically (the storage SDKs, the credential
// kinds with the identity library and MSAL, node-forge, the telemetry client) goes in chunks beside
// it (chunks/*.mjs), loaded on first use: a cold start neither compiles nor runs them.
// @azure/functions stays external (the host and the local host share its `app`).
// `node scripts/bundle.mjs [--entry src/x.ts] [--outfile dist/y.mjs]`; run after tsc. It writes
// <outfile>.files.json beside the entry: the files of this build, for scripts/stage.mjs.
import { readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { writeOutputs } from './write-outputs.mjs';

const { values: args } = parseArgs({ options: { entry: { type: 'string' }, outfile: { type: 'string' } } });
const outfile = args.outfile ?? 'dist/bundle/index.mjs';

const outdir = dirname(outfile);
const entryName = basename(outfile).replace(/\.mjs$/, '');

const result = await build({
  entryPoints: { [entryName]: args.entry ?? 'src/index.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  // dynamic imports become chunks of their own, shared code a chunk of its own too
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
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
  banner: {
    js: "import { createRequire as __exosendCreateRequire } from 'node:module'; const require = __exosendCreateRequire(import.meta.url);",
  },
  write: false,
  logLevel: 'warning',
});

// the chunks (named by their content) before the entry that imports them, so that no entry names a
// chunk not yet there; each file as writeOutputs writes it (a reader never sees half a file)
const isEntry = (file) =>
  file.path === join(process.cwd(), outfile) || file.path === join(process.cwd(), `${outfile}.map`);
await writeOutputs([...result.outputFiles].sort((a, b) => Number(isEntry(a)) - Number(isEntry(b))));

// What this build wrote, for scripts/stage.mjs; chunks of earlier builds stay a while for a process
// that loaded an earlier entry and imports its chunks later, then go
const files = result.outputFiles.map((file) => relative(outdir, file.path).split('\\').join('/')).sort();
await writeFile(`${outfile}.files.json`, `${JSON.stringify(files, null, 2)}\n`);
const chunks = join(outdir, 'chunks');
const staleAfterMs = 60 * 60_000;
for (const name of await readdir(chunks).catch(() => [])) {
  const path = join(chunks, name);
  if (files.includes(`chunks/${name}`)) continue;
  if (Date.now() - (await stat(path)).mtimeMs > staleAfterMs) await unlink(path).catch(() => undefined);
}

// The package's bin (package.json "bin") as tsc wrote it, without the executable bit: `npx exosend`
// in this folder runs that very file (npm links no bin for the root project, so `npm ci` never
// marks it), and a shell refuses a file it may not execute. Every build runs this script after tsc.
const { chmodSync, existsSync: binExists } = await import('node:fs');
const { bin } = JSON.parse(await readFile('package.json', 'utf8'));
for (const target of Object.values(bin ?? {})) if (binExists(target)) chmodSync(target, 0o755);
