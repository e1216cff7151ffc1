import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { ignoreRules } from './gitignore.js';
import { declaredRegistrations, registrationsOf } from './registration-probe.js';

const run = promisify(execFile);

describe('the deployed artefact (npm run package)', () => {
  let unpacked: string;
  let entries: string[];
  before(async () => {
    // `npm run package` without its tsc: the test runner has just compiled
    for (const script of ['scripts/bundle.mjs', 'scripts/stage.mjs', 'scripts/package.mjs'])
      await run(process.execPath, [script]);
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
    // the entry, and the chunks it loads on first use (scripts/bundle.mjs), each with its source map
    const bundle = entries.filter((e) => e.startsWith('dist/'));
    assert.deepEqual(
      bundle.filter((e) => !/^dist\/bundle\/(index|chunks\/[\w-]+)\.mjs(\.map)?$/.test(e)),
      [],
    );
    assert.ok(
      bundle.includes('dist/bundle/index.mjs') && bundle.includes('dist/bundle/index.mjs.map'),
      bundle.join(', '),
    );
    // exactly this build's chunks: none an earlier build left behind
    const built = JSON.parse(readFileSync(join('dist', 'bundle', 'index.mjs.files.json'), 'utf8')) as string[];
    assert.deepEqual(bundle, built.map((f) => `dist/bundle/${f}`).sort());
    const forbidden = entries.filter(
      (e) =>
        /(^|\/)(test|bench|sandbox|\.exosend|src)\/|local\.settings|ca-key|\.ts$/.test(e) &&
        !e.startsWith('node_modules/'),
    );
    assert.deepEqual(forbidden, []);
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'));
    assert.equal(manifest.main, 'dist/bundle/index.mjs');
    assert.equal(manifest.scripts, undefined, 'no install script can run on the host');
    assert.equal(manifest.devDependencies, undefined);
    // the bundle carries no sandbox code (its source map names what went in)
    for (const file of bundle.filter((e) => e.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(join(unpacked, file), 'utf8')) as { sources: string[] };
      assert.deepEqual(
        map.sources.filter((s) => /src\/sandbox|local\/|\/test\/|\/bench\//.test(s)),
        [],
        file,
      );
    }
  });

  it('when the worker loads its main in a fresh Node process, then every function the app defines registers, from the packaged @azure/functions', async () => {
    const { found, functionsFrom } = await registrationsOf(unpacked);
    assert.ok(functionsFrom.startsWith(unpacked), functionsFrom);
    // what the source registers, learned the same way from the tsc build
    const fromSource = (await registrationsOf(process.cwd(), 'dist/src/index.js')).found;
    assert.deepEqual(found, fromSource);
    // and every registration a trigger file makes, read from the sources
    const declared = declaredRegistrations();
    assert.ok(declared.length >= 6, declared.join(', '));
    assert.deepEqual(found.map((f) => f.name).sort(), declared);
  });

  it('when .funcignore is applied to the project, then it keeps exactly what the zip holds (node_modules aside: publish after npm ci --omit=dev)', () => {
    const { ignored } = ignoreRules(readFileSync('.funcignore', 'utf8'));
    const inZip = new Set(entries.filter((e) => !e.startsWith('node_modules/')));
    const shipped = entries.filter((e) => !e.startsWith('node_modules/') && e !== 'package.json');
    assert.deepEqual(shipped.filter(ignored), [], 'the zip holds what .funcignore excludes');
    const tracked = spawnSync('git', ['ls-files'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    assert.ok(tracked.length > 50, 'git lists the project');
    const kept = [
      ...tracked,
      'dist/src/index.js',
      'dist/test/package.test.js',
      '.exosend/sandbox/ca-key.pem',
      'local.settings.json',
    ].filter((f) => !ignored(f));
    assert.deepEqual(
      kept.sort(),
      [...inZip].filter((e) => !e.startsWith('dist/')).sort(),
      'a project file .funcignore keeps is not in the zip',
    );
    for (const file of inZip) assert.equal(ignored(file), false, file);
  });
});

describe('a production install', () => {
  it('when npm ci --omit=dev runs in a clean copy, then it exits 0 with no EBADENGINE warning and skips the build it cannot run', () => {
    const copy = mkdtempSync(join(tmpdir(), 'exosend-prod-install-'));
    try {
      const tracked = spawnSync('git', ['ls-files'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const file of tracked) cpSync(file, join(copy, file), { recursive: true });
      // --offline: from the cache the project's own `npm ci` filled; a test never reaches a registry
      const npm = spawnSync('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], {
        cwd: copy,
        encoding: 'utf8',
      });
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
