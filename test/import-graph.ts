import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** One import of one source file: `to` is a repository path for a relative import, else the package name. */
export interface ImportEdge {
  from: string;
  to: string;
  relative: boolean;
}

/**
 * Static imports and re-exports (`import x from`, `import type`, `export * from`), imports for their
 * effect (`import './x.js'`) and dynamic `import('...')`, each resolved from `.js` to the `.ts` it
 * names. Comments are not told apart: a commented-out import counts, which errs on the safe side.
 */
const importPattern = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)(['"])([^'"]+)\1/gm;

/** Every .ts file under these folders, as repository paths with forward slashes. */
export function sourceFiles(roots: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && path.endsWith('.ts')) files.push(path.split('\\').join('/'));
    }
  };
  for (const root of roots) if (existsSync(root)) walk(root);
  return files.sort();
}

export function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(importPattern)].map((match) => {
    const spec = match[2]!;
    if (!spec.startsWith('.')) return { from: file, to: spec, relative: false };
    const target = relative('.', resolve(dirname(file), spec))
      .split('\\')
      .join('/');
    return { from: file, to: target.endsWith('.js') ? target.replace(/\.js$/, '.ts') : target, relative: true };
  });
}

/** The first file-level cycle found among the relative imports, as a chain that ends where it starts. */
export function findCycle(edges: readonly ImportEdge[]): string[] | undefined {
  const next = new Map<string, string[]>();
  for (const e of edges) if (e.relative) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (file: string): string[] | undefined => {
    if (onPath.has(file)) return [...path.slice(path.indexOf(file)), file];
    if (done.has(file)) return undefined;
    path.push(file);
    onPath.add(file);
    for (const to of next.get(file) ?? []) {
      const cycle = visit(to);
      if (cycle) return cycle;
    }
    path.pop();
    onPath.delete(file);
    done.add(file);
    return undefined;
  };
  for (const file of next.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}
