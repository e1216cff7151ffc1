// The last step of `npm run build`: dist/package, the folder azd deploys (azure.yaml, `dist`). azd's
// Node steps run `npm run build` and nothing else before they zip that folder (Azure/azure-dev,
// cli/azd/pkg/project/framework_service_node.go: Build and Package both run the `build` script), so
// this folder is rebuilt whole on every build, from nothing: a stale one is never deployed.
// It holds host.json, a package.json whose "main" is the bundle, the bundle (its entry and chunks) and their source maps, and
// production node_modules: the bundle already carries every dependency but the ones it leaves
// external (@azure/functions), so node_modules holds those and what they depend on, copied from the
// tree `npm install`/`npm ci` installed from the lock file. And a .funcignore of its own: azd reads
// the ignore file from this folder when it zips it, and with none it leaves node_modules out unless
// azure.yaml says `remoteBuild: false` (cli/azd/pkg/project/project_utils.go, createDeployableZip).
// Nothing of src, test, bench, the sandbox, .exosend/ or local.settings.json goes in (the root
// .funcignore says the same; test/package.test.ts and test/azd-packaging.test.ts check both).
// Run after the bundle is built.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';

const root = process.cwd();
const stage = join(root, 'dist', 'package');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const externals = ['@azure/functions'];

rmSync(stage, { recursive: true, force: true });
mkdirSync(join(stage, 'dist', 'bundle'), { recursive: true });
cpSync(join(root, 'host.json'), join(stage, 'host.json'));
// the entry, its chunks and their source maps, as this build wrote them (scripts/bundle.mjs lists them)
const bundled = JSON.parse(readFileSync(join(root, 'dist', 'bundle', 'index.mjs.files.json'), 'utf8'));
for (const file of bundled) cpSync(join(root, 'dist', 'bundle', file), join(stage, 'dist', 'bundle', file));

/**
 * The installed directory of `name` as Node would resolve it from `fromDir` (nested first, then up).
 * As Node, it never looks in a node_modules inside a node_modules (Module._nodeModulePaths in
 * lib/internal/modules/cjs/loader.js skips path segments named node_modules): a stray
 * node_modules/node_modules (a link made by `ln -s` into an existing node_modules) once had a
 * dependency copied where the deployed app could not find it.
 */
function installedDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (basename(dir) !== 'node_modules' && existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dirname(dir) === dir) throw new Error(`${name} is not installed (run npm ci first)`);
  }
}

const copied = new Map();
function copyWithDependencies(name, fromDir) {
  const dir = installedDir(name, fromDir);
  if (copied.has(dir)) return copied.get(dir);
  const target = join(stage, relative(root, dir));
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  copied.set(dir, pkg.version);
  // a package's own nested node_modules hold only what it depends on, at the versions it needs
  cpSync(dir, target, { recursive: true, dereference: true });
  for (const dependency of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
    try {
      copyWithDependencies(dependency, dir);
    } catch (error) {
      if (!(pkg.optionalDependencies && dependency in pkg.optionalDependencies)) throw error;
    }
  }
  return pkg.version;
}

const dependencies = Object.fromEntries(externals.map((name) => [name, copyWithDependencies(name, root)]));
const deployed = {
  name: manifest.name,
  version: manifest.version,
  private: true,
  description: manifest.description,
  type: manifest.type,
  main: manifest.main,
  engines: manifest.engines,
  dependencies,
};
writeFileSync(join(stage, 'package.json'), `${JSON.stringify(deployed, null, 2)}\n`);

// With this file present azd applies it instead of its JavaScript default, whatever remoteBuild says;
// azd leaves the file itself out of the zip.
writeFileSync(
  join(stage, '.funcignore'),
  [
    "# Written by scripts/stage.mjs (npm run build). azd zips this folder with this file's rules instead of",
    '# its default, which would leave node_modules out unless azure.yaml says remoteBuild: false. No remote',
    "# build runs (azure.yaml), so the app's node_modules (@azure/functions) must ship: nothing is excluded.",
    '!node_modules/',
    '',
  ].join('\n'),
);

console.log(
  `dist/package: host.json, package.json, dist/bundle, node_modules (${[...copied].map(([dir, v]) => `${relative(join(root, 'node_modules'), dir)}@${v}`).join(', ')})`,
);
