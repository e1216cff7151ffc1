// What the Functions worker would find in a deployed folder: its package.json "main" loaded in a fresh
// Node process, from the folder itself (so nothing resolves from the repository's node_modules), with
// @azure/functions' `app` intercepted as the local host does. And the registrations the sources
// declare, so that a check needs no second list of functions to drift.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const probe = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const dir = process.argv[2];
const require = createRequire(join(dir, 'package.json'));
const { app } = require('@azure/functions');
const found = [];
for (const kind of ['http', 'storageQueue', 'timer']) app[kind] = (name, options) => found.push({ kind, name, route: options.route, queueName: options.queueName, schedule: options.schedule });
const main = process.argv[3] ?? JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).main;
const started = performance.now();
await import(pathToFileURL(join(dir, main)).href);
console.log(JSON.stringify({ found, loadMs: performance.now() - started, functionsFrom: require.resolve('@azure/functions') }));
`;

export interface Registration {
  kind: string;
  name: string;
  route?: string;
  queueName?: string;
  schedule?: string;
}

export interface ProbeResult {
  found: Registration[];
  loadMs: number;
  /** The file `require('@azure/functions')` resolved to, from the probed folder. */
  functionsFrom: string;
}

/** Loads `main` (default: the folder's package.json "main") from `dir` in a fresh Node process that sees only PATH. */
export async function registrationsOf(dir: string, main?: string): Promise<ProbeResult> {
  const scratch = mkdtempSync(join(tmpdir(), 'exosend-probe-'));
  try {
    const script = join(scratch, 'probe.mjs');
    writeFileSync(script, probe);
    const { stdout } = await run(process.execPath, [script, dir, ...(main ? [main] : [])], {
      cwd: dir,
      env: { PATH: process.env['PATH'] ?? '' },
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as ProbeResult;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Every `app.http|timer|storageQueue('<name>'` a trigger file in src/functions makes, and every HTTP
 * route registered through `callerRoute('<name>'` (which calls app.http with that name), sorted.
 */
export function declaredRegistrations(projectDir = '.'): string[] {
  const dir = join(projectDir, 'src', 'functions');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) =>
      [
        ...readFileSync(join(dir, f), 'utf8').matchAll(
          /(?:app\.(?:http|timer|storageQueue)|callerRoute)\(\s*'([^']+)'/g,
        ),
      ].map((m) => m[1]!),
    )
    .sort();
}
