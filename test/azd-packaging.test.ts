// Issue 18, defects 1 and 2: `azd up` failed on a fresh clone ("package source '.../dist/package' is
// empty or does not exist": `npm run build` did not make the folder azure.yaml deploys, only
// `npm run package` did, which azd never runs), or deployed whatever stale dist/package an earlier
// `npm run package` had left; and had that folder existed, azd would have zipped it without
// node_modules (no .funcignore in it, remoteBuild unset) while asking for no remote build, so the
// app could not load @azure/functions.
//
// This replays azd's steps for a Node function app as its source shows them (Azure/azure-dev,
// cli/azd/pkg/project/framework_service_node.go and cli/azd/pkg/tools/node/node.go: Restore runs
// `npm install`, Build and Package each run `npm run build --if-present`, Package takes the folder
// azure.yaml's `dist` names and fails when it is empty; then test/azd-rules.ts for the zip and the
// remote-build decision) in a copy of the project's tracked files: no dist/, no .exosend/, no local
// settings, as a clone has.
//
// Left out, for time (2 shared cores; a cold tsc of the project is most of this test): the install,
// since a real `npm install --offline` in such a copy took 55-70 s (445 packages, 320 MB) and CI
// already runs `npm ci`, with its `prepare`, on a clean clone. The copy links the repository's
// node_modules instead, installed by `npm ci` from the same lock file; nothing here may run an
// install in the copy, which through the link would rewrite the repository's node_modules. And the
// second `npm run build`: the same command over the first one's output, which a file put in
// dist/package before the build stands for.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { azureYamlServices, deployableFiles, resolveFunctionAppRemoteBuild, type AzdService } from './azd-rules.js';
import { declaredRegistrations, registrationsOf } from './registration-probe.js';

const run = promisify(execFile);
/** npm as azd starts it: the user's environment (without the test runner's CA, which the copy lacks); what it printed if it fails. */
async function npm(cwd: string, ...args: string[]): Promise<void> {
  const { NODE_EXTRA_CA_CERTS: _, ...env } = process.env;
  try {
    await run('npm', args, { cwd, env: { ...env, npm_config_update_notifier: 'false' } });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

describe('azd up on a fresh clone (npm run build, then the zip of the folder azure.yaml names)', () => {
  let clone: string;
  let service: AzdService;
  let packagePath: string;
  const staleMarker = 'left-by-an-earlier-build.txt';
  const scratch: string[] = [];
  before(async () => {
    clone = mkdtempSync(join(tmpdir(), 'exosend-azd-clone-'));
    const tracked = spawnSync('git', ['ls-files'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((f) => f && existsSync(f));
    assert.ok(tracked.length > 50, 'git lists the project');
    for (const file of tracked) cpSync(file, join(clone, file), { recursive: true });
    symlinkSync(realpathSync('node_modules'), join(clone, 'node_modules'), 'dir');

    const services = [...azureYamlServices(readFileSync(join(clone, 'azure.yaml'), 'utf8'))].filter(
      ([, s]) => s.host === 'function',
    );
    assert.equal(services.length, 1, 'azure.yaml has one function app service');
    service = services[0]![1];
    assert.ok(service.dist, 'azure.yaml names the folder to deploy (dist)');
    packagePath = join(clone, service.project ?? '.', service.dist);

    // what an earlier build, or `npm run package` of another commit, left in the folder
    mkdirSync(packagePath, { recursive: true });
    writeFileSync(join(packagePath, staleMarker), 'a file no build of this commit writes');
    await npm(clone, 'run', 'build', '--if-present'); // Build (and Package: the same script again)
  });
  after(() => {
    if (clone) {
      // the link, never what it points to
      if (lstatSync(join(clone, 'node_modules'), { throwIfNoEntry: false })?.isSymbolicLink())
        unlinkSync(join(clone, 'node_modules'));
      rmSync(clone, { recursive: true, force: true });
    }
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  it('when azd looks for the folder azure.yaml names, then it is there and not empty', () => {
    assert.ok(readdirSync(packagePath).length > 0, packagePath);
  });

  it('when the build runs over a folder an earlier build left, then nothing of that folder survives', () => {
    assert.equal(existsSync(join(packagePath, staleMarker)), false);
  });

  it('when azd zips the folder, then it holds host.json, a package.json whose main is inside and @azure/functions, and asks for no remote build', () => {
    assert.equal(resolveFunctionAppRemoteBuild(clone, service), false);
    const files = deployableFiles(packagePath, service);
    const manifest = JSON.parse(readFileSync(join(packagePath, 'package.json'), 'utf8')) as { main: string };
    for (const file of ['host.json', 'package.json', manifest.main, 'node_modules/@azure/functions/package.json'])
      assert.ok(files.includes(file), file);
    assert.deepEqual(
      files.filter((f) => /(^|\/)(\.funcignore|local\.settings\.json)$|(^|\/)\.azure\//.test(f)),
      [],
    );
    // the same files `npm run package` zips for az functionapp deployment source config-zip
    const top = [...new Set(files.map((f) => f.split('/')[0]))].sort();
    assert.deepEqual(top, ['dist', 'host.json', 'node_modules', 'package.json']);
  });

  it('when either guard is lost (azure.yaml remoteBuild: false, or the folder .funcignore), then the zip would still carry node_modules', () => {
    // azd's default for a folder without an ignore file, with remoteBuild unset, drops node_modules:
    // each guard alone must keep them, so that azd changing one default cannot break a deployment
    const withoutRemoteBuild = { ...service, remoteBuild: undefined };
    assert.ok(
      deployableFiles(packagePath, withoutRemoteBuild).includes('node_modules/@azure/functions/package.json'),
      'the folder .funcignore keeps node_modules',
    );
    const bare = mkdtempSync(join(tmpdir(), 'exosend-azd-bare-'));
    scratch.push(bare);
    cpSync(packagePath, bare, { recursive: true, filter: (src) => !src.endsWith('/.funcignore') });
    assert.equal(existsSync(join(bare, '.funcignore')), false);
    assert.ok(
      deployableFiles(bare, service).includes('node_modules/@azure/functions/package.json'),
      'azure.yaml says remoteBuild: false',
    );
  });

  it('when the zipped files are unpacked into an empty folder and the worker loads main, then every function registers from that folder', async () => {
    const unpacked = mkdtempSync(join(tmpdir(), 'exosend-azd-unpacked-'));
    scratch.push(unpacked);
    for (const file of deployableFiles(packagePath, service)) {
      mkdirSync(dirname(join(unpacked, file)), { recursive: true });
      cpSync(join(packagePath, file), join(unpacked, file));
    }
    const { found, functionsFrom } = await registrationsOf(unpacked);
    assert.ok(functionsFrom.startsWith(unpacked), functionsFrom);
    const declared = declaredRegistrations(clone);
    assert.ok(declared.length >= 6, declared.join(', '));
    assert.deepEqual(found.map((f) => f.name).sort(), declared);
  });
});
