// What azd does with a Node function app between `npm run build` and the upload, ported from its
// source (Azure/azure-dev, cli/azd/pkg/project): which folder it packages, which files of it go in
// the zip, and whether it asks Flex Consumption for a remote build. Each function names the Go
// function it follows; where they differ, the Go source is right and this file is the bug.
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ignoreRules } from './gitignore.js';

/** The fields of an azure.yaml service that packaging reads (service_config.go: `dist` is OutputPath, `remoteBuild` a *bool). */
export interface AzdService {
  project?: string;
  language?: string;
  host?: string;
  dist?: string;
  remoteBuild?: boolean;
}

/**
 * azure.yaml's `services`, each one's plain scalar fields. A reader of the block mappings and plain
 * scalars this file uses, not of YAML: a value it cannot read as such (flow or block syntax) throws.
 */
export function azureYamlServices(text: string): Map<string, AzdService> {
  const services = new Map<string, AzdService>();
  let inServices = false;
  let current: Record<string, unknown> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trimEnd();
    if (!line.trim() || line.trimStart().startsWith('#')) continue;
    const indent = line.length - line.trimStart().length;
    const [, key, value] = /^\s*([A-Za-z0-9_-]+):(?:\s+(.*))?$/.exec(line) ?? [];
    if (indent === 0) {
      inServices = key === 'services';
      current = undefined;
    } else if (inServices && indent === 2 && key && value === undefined) {
      current = {};
      services.set(key, current);
    } else if (inServices && indent === 4 && current && key && value !== undefined) {
      if (/^[[{|>&*!]/.test(value)) throw new Error(`azure.yaml: services.*.${key} is not a plain scalar: ${value}`);
      const unquoted = /^(['"])(.*)\1$/.exec(value)?.[2];
      current[key] = unquoted ?? (value === 'true' ? true : value === 'false' ? false : value);
    }
  }
  return services;
}

const ignoreFile = '.funcignore'; // service_target.go, IgnoreFile: for host `function`

/**
 * service_target_functionapp.go, resolveFunctionAppRemoteBuild, for js/ts: the ignore file is read
 * from the project folder; remote build follows whether it excludes node_modules, unless azure.yaml
 * says, and then the two must agree. No ignore file and nothing said: remote build.
 */
export function resolveFunctionAppRemoteBuild(projectDir: string, service: AzdService): boolean {
  if (service.language !== 'js' && service.language !== 'ts')
    throw new Error(`ported for js/ts only, not ${service.language}`);
  const path = join(projectDir, service.project ?? '.', ignoreFile);
  if (!existsSync(path)) return service.remoteBuild ?? true;
  const nodeModulesExcluded = ignoreRules(readFileSync(path, 'utf8')).match('node_modules', true) === true;
  if (service.remoteBuild === undefined) return nodeModulesExcluded;
  if (service.remoteBuild && !nodeModulesExcluded)
    throw new Error(`'remoteBuild: true' requires '${ignoreFile}' to exclude node_modules`);
  if (!service.remoteBuild && nodeModulesExcluded)
    throw new Error(`'remoteBuild: false' cannot be used when '${ignoreFile}' excludes node_modules`);
  return service.remoteBuild;
}

/**
 * project_utils.go, createDeployableZip with rzip.CreateFromDirectory: the files of the packaged
 * folder `root` that go in the zip, relative and `/`-separated. Dropped: `.azure` folders, every
 * file named like the ignore file, `local.settings.json`; then the ignore file read from `root`
 * itself, or without one, for js/ts, every node_modules folder unless `remoteBuild: false`. An
 * excluded folder is not entered. Symbolic links are followed.
 */
export function deployableFiles(root: string, service: AzdService): string[] {
  const ignorePath = join(root, ignoreFile);
  const rules = existsSync(ignorePath) ? ignoreRules(readFileSync(ignorePath, 'utf8')) : undefined;
  const javascript = service.language === 'js' || service.language === 'ts';
  const include = (relative: string, name: string, isDir: boolean): boolean => {
    if (name === '.azure' && isDir) return false;
    if (name === ignoreFile && !isDir) return false;
    if (name === 'local.settings.json' && !isDir) return false;
    if (rules) return rules.match(relative, isDir) !== true;
    if (javascript && name === 'node_modules' && isDir) return service.remoteBuild === false;
    return true;
  };
  const files: string[] = [];
  (function walk(dir: string, prefix: string) {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      const relative = prefix ? `${prefix}/${entry}` : entry;
      const isDir = lstatSync(path).isSymbolicLink() ? statSync(path).isDirectory() : lstatSync(path).isDirectory();
      if (!include(relative, entry, isDir)) continue;
      if (isDir) walk(path, relative);
      else files.push(relative);
    }
  })(root, '');
  return files.sort();
}
