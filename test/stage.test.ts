import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Writes `files` (path → content; an object is written as JSON) under `root`. */
function write(root: string, files: Record<string, string | object>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content));
  }
}

const manifest = (name: string, version: string, dependencies?: Record<string, string>) => ({
  name,
  version,
  main: 'index.js',
  ...(dependencies && { dependencies }),
});

// scripts/stage.mjs copies the packages the bundle leaves external, and what they depend on, from
// the installed tree. It must pick the copy Node would load from the deployed folder: a copy Node
// never looks at leaves the app unable to start (seen: cookie, which @azure/functions requires, was
// taken from a stray node_modules/node_modules link, and the staged app failed with "Cannot find
// module 'cookie'"). A project of its own, with packages that are a manifest and a line each.
describe('the staged folder (scripts/stage.mjs) takes each dependency where Node resolves it', () => {
  let project: string;
  let staged: string;
  before(async () => {
    project = mkdtempSync(join(tmpdir(), 'exosend-stage-'));
    write(project, {
      'host.json': { version: '2.0' },
      'package.json': { name: 'app', version: '1.0.0', type: 'module', main: 'dist/bundle/index.mjs' },
      'dist/bundle/index.mjs': 'export {};\n',
      'dist/bundle/index.mjs.files.json': ['index.mjs'],
      'node_modules/@azure/functions/package.json': manifest('@azure/functions', '4.0.0', {
        cookie: '^0.7.0',
        long: '^2.0.0',
      }),
      'node_modules/@azure/functions/index.js': "require('cookie'); require('long');\n",
      // the one Node finds from @azure/functions: in the project's node_modules
      'node_modules/cookie/package.json': manifest('cookie', '0.7.2'),
      'node_modules/cookie/index.js': '',
      // one Node never looks at: a node_modules inside a node_modules
      'node_modules/node_modules/cookie/package.json': manifest('cookie', '0.0.1'),
      'node_modules/node_modules/cookie/index.js': '',
      // nested under the package that needs it, ahead of the project's own (another version)
      'node_modules/@azure/functions/node_modules/long/package.json': manifest('long', '2.4.0'),
      'node_modules/@azure/functions/node_modules/long/index.js': '',
      'node_modules/long/package.json': manifest('long', '1.0.0'),
      'node_modules/long/index.js': '',
    });
    await run(process.execPath, [resolve('scripts/stage.mjs')], { cwd: project });
    staged = join(project, 'dist', 'package');
  });
  after(() => rmSync(project, { recursive: true, force: true }));

  it('when a node_modules holds a node_modules of its own, then the copy Node loads is staged, and nothing of the other', () => {
    const functions = join(staged, 'node_modules', '@azure', 'functions', 'index.js');
    const found = createRequire(functions).resolve('cookie');
    assert.equal(found, join(staged, 'node_modules', 'cookie', 'index.js'));
    assert.equal(JSON.parse(readFileSync(join(dirname(found), 'package.json'), 'utf8')).version, '0.7.2');
    assert.equal(existsSync(join(staged, 'node_modules', 'node_modules')), false);
  });

  it("when a dependency is nested under the package that needs it, then that version is staged, and the project's own is not", () => {
    const functions = join(staged, 'node_modules', '@azure', 'functions', 'index.js');
    const found = createRequire(functions).resolve('long');
    assert.equal(JSON.parse(readFileSync(join(dirname(found), 'package.json'), 'utf8')).version, '2.4.0');
    assert.equal(existsSync(join(staged, 'node_modules', 'long')), false);
    const deployed = JSON.parse(readFileSync(join(staged, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.deepEqual(deployed.dependencies, { '@azure/functions': '4.0.0' });
  });
});
