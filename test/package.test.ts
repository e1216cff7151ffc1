import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';

const run = promisify(execFile);

/** .funcignore as gitignore reads it, for the patterns it uses: names, `dir/*`, `*.ext`, `.git*`, `!negation`. */
function funcignore(): (path: string) => boolean {
  const rules = readFileSync('.funcignore', 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = (negated ? line.slice(1) : line).replace(/\/$/, '');
      const regex = pattern
        .split('')
        .map((c) => (c === '*' ? '[^/]*' : /[.+?^${}()|[\]\\]/.test(c) ? `\\${c}` : c))
        .join('');
      // a pattern without a slash matches at any depth; a match of a directory covers what is inside
      const anchored = pattern.includes('/') ? `^${regex}(/.*)?$` : `(^|/)${regex}(/.*)?$`;
      return { negated, regex: new RegExp(anchored) };
    });
  return (path) => rules.reduce((ignored, rule) => (rule.regex.test(path) ? !rule.negated : ignored), false);
}

/** In a fresh Node process, loads the unpacked app's "main" with @azure/functions' `app` intercepted, as the local host does. */
const registrationProbe = `
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

describe('the deployed artefact (npm run package)', () => {
  let unpacked: string;
  let entries: string[];
  before(async () => {
    await run(process.execPath, ['scripts/bundle.mjs']);
    await run(process.execPath, ['scripts/package.mjs']);
    const files = unzipSync(readFileSync(join('dist', 'exosend.zip')));
    entries = Object.keys(files).sort();
    unpacked = mkdtempSync(join(tmpdir(), 'exosend-unpacked-'));
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(dirname(join(unpacked, name)), { recursive: true });
      writeFileSync(join(unpacked, name), content);
    }
  });
  after(() => rmSync(unpacked, { recursive: true, force: true }));

  it('when unpacked into an empty folder, then it holds host.json, package.json, the bundle and production node_modules only', () => {
    const top = new Set(entries.map((e) => e.split('/')[0]));
    assert.deepEqual([...top].sort(), ['dist', 'host.json', 'node_modules', 'package.json']);
    assert.deepEqual(entries.filter((e) => e.startsWith('dist/')), ['dist/bundle/index.mjs', 'dist/bundle/index.mjs.map']);
    const forbidden = entries.filter((e) => /(^|\/)(test|bench|sandbox|\.exosend|src)\/|local\.settings|ca-key|\.ts$/.test(e) && !e.startsWith('node_modules/'));
    assert.deepEqual(forbidden, []);
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'));
    assert.equal(manifest.main, 'dist/bundle/index.mjs');
    assert.equal(manifest.scripts, undefined, 'no install script can run on the host');
    assert.equal(manifest.devDependencies, undefined);
    // the bundle carries no sandbox code (its source map names what went in)
    const map = JSON.parse(readFileSync(join(unpacked, 'dist', 'bundle', 'index.mjs.map'), 'utf8')) as { sources: string[] };
    assert.deepEqual(map.sources.filter((s) => /src\/sandbox|\/test\/|\/bench\//.test(s)), []);
  });

  it('when the worker loads its main in a fresh Node process, then every function the app defines registers, from the packaged @azure/functions', async () => {
    writeFileSync(join(unpacked, '..', `${unpacked.split(/[\\/]/).at(-1)}-probe.mjs`), registrationProbe);
    const probe = join(unpacked, '..', `${unpacked.split(/[\\/]/).at(-1)}-probe.mjs`);
    try {
      // from a folder of its own, so nothing resolves from the repository's node_modules
      const { stdout } = await run(process.execPath, [probe, unpacked], { cwd: unpacked, env: { PATH: process.env['PATH'] ?? '' } });
      const { found, functionsFrom } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { found: { kind: string; name: string }[]; functionsFrom: string };
      assert.ok(functionsFrom.startsWith(unpacked), functionsFrom);
      // what the source registers, learned the same way from the tsc build: no second list to drift
      const { stdout: expected } = await run(process.execPath, [probe, process.cwd(), 'dist/src/index.js'], { env: { PATH: process.env['PATH'] ?? '' } });
      const fromSource = (JSON.parse(expected.trim().split('\n').at(-1)!) as { found: unknown[] }).found;
      assert.deepEqual(found, fromSource);
      // and every registration a trigger file makes, read from the sources
      const declared = readdirSync(join('src', 'functions'))
        .filter((f) => f.endsWith('.ts'))
        .flatMap((f) => [...readFileSync(join('src', 'functions', f), 'utf8').matchAll(/app\.(?:http|timer|storageQueue)\('([^']+)'/g)].map((m) => m[1]!));
      assert.ok(declared.length >= 6, declared.join(', '));
      assert.deepEqual(found.map((f) => f.name).sort(), declared.sort());
    } finally {
      rmSync(probe, { force: true });
    }
  });

  it('when .funcignore is applied to the project, then it keeps exactly what the zip holds (node_modules aside: publish after npm ci --omit=dev)', () => {
    const ignored = funcignore();
    const inZip = new Set(entries.filter((e) => !e.startsWith('node_modules/')));
    const shipped = entries.filter((e) => !e.startsWith('node_modules/') && e !== 'package.json');
    assert.deepEqual(shipped.filter(ignored), [], 'the zip holds what .funcignore excludes');
    const tracked = spawnSync('git', ['ls-files'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    assert.ok(tracked.length > 50, 'git lists the project');
    const kept = [...tracked, 'dist/src/index.js', 'dist/test/package.test.js', '.exosend/sandbox/ca-key.pem', 'local.settings.json'].filter((f) => !ignored(f));
    assert.deepEqual(kept.sort(), [...inZip].filter((e) => !e.startsWith('dist/')).sort(), 'a project file .funcignore keeps is not in the zip');
    for (const file of inZip) assert.equal(ignored(file), false, file);
  });
});

describe('a production install', () => {
  it('when npm ci --omit=dev runs in a clean copy, then it exits 0 with no EBADENGINE warning and skips the build it cannot run', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'exosend-prod-install-'));
    try {
      const tracked = spawnSync('git', ['ls-files'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const file of tracked) cpSync(file, join(copy, file), { recursive: true });
      // --offline: from the cache the project's own `npm ci` filled; a test never reaches a registry
      const npm = spawnSync('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: copy, encoding: 'utf8' });
      const said = `${npm.stdout}\n${npm.stderr}`;
      assert.equal(npm.status, 0, said);
      assert.doesNotMatch(said, /EBADENGINE/);
      assert.match(said, /build skipped, typescript and esbuild not installed/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('when host.json is read as strict JSON, then it parses', () => {
    assert.doesNotThrow(() => JSON.parse(readFileSync('host.json', 'utf8')));
  });
});
