import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** What a reader of the project's documentation reads: the README and every page in docs/. */
export function readDocs(): string {
  const pages = readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join('docs', f));
  return ['README.md', ...pages].map((f) => readFileSync(f, 'utf8')).join('\n');
}
