// `npm run package`: the zip that is deployed (azd runs this script, then deploys dist/package;
// `az functionapp deployment source config-zip --src dist/exosend.zip` deploys the zip itself).
// It holds host.json, a package.json whose "main" is the bundle, the bundle and its source map, and
// production node_modules: the bundle already carries every dependency but the ones it leaves
// external (@azure/functions), so node_modules holds those and what they depend on, copied from the
// tree `npm ci` installed from the lock file. Nothing of src, test, bench, the sandbox, .exosend/ or
// local.settings.json goes in (.funcignore says the same; test/package.test.ts checks both).
// Run after the bundle is built (`npm run package` builds it first).
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { zipSync } from 'fflate';

const root = process.cwd();
const stage = join(root, 'dist', 'package');
const zipFile = join(root, 'dist', 'exosend.zip');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const externals = ['@azure/functions'];

rmSync(stage, { recursive: true, force: true });
mkdirSync(join(stage, 'dist', 'bundle'), { recursive: true });
cpSync(join(root, 'host.json'), join(stage, 'host.json'));
for (const file of ['index.mjs', 'index.mjs.map']) cpSync(join(root, 'dist', 'bundle', file), join(stage, 'dist', 'bundle', file));

/** The installed directory of `name` as Node would resolve it from `fromDir` (nested first, then up). */
function installedDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
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

// a fixed time for every entry: the same build gives the same zip
const files = {};
const mtime = new Date('2026-01-01T00:00:00Z');
(function add(dir) {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) add(path);
    else files[relative(stage, path).split('\\').join('/')] = [readFileSync(path), { mtime }];
  }
})(stage);
writeFileSync(zipFile, zipSync(files, { level: 9 }));

const megabytes = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
console.log(`dist/exosend.zip: ${Object.keys(files).length} files, ${megabytes(statSync(zipFile).size)} (node_modules: ${[...copied].map(([dir, v]) => `${relative(join(root, 'node_modules'), dir)}@${v}`).join(', ')})`);
