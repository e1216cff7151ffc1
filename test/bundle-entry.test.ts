import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';

// Regression: the shipped entry loaded every Azure SDK at once (the credential kinds with
// @azure/identity and MSAL, node-forge, the tables SDK through a status code's RestError), 2.4 MB
// compiled and run before the host could index a function (issue 19, item 8). These SDKs now load on
// first use, from chunks beside the entry (scripts/bundle.mjs); this holds the entry to that.

/** The files a fresh process compiles and runs when it imports `entry`: its static imports, followed. */
function staticGraph(entry: string): string[] {
  const seen = new Set<string>();
  const pending = [resolve(entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    // `import{a}from"./x.mjs"`, `export{a}from"./x.mjs"` and `import"./x.mjs"`; never `import("./x.mjs")`, which waits for first use
    for (const [, path] of code.matchAll(/(?:\bfrom|\bimport)\s*"(\.\.?\/[^"]+)"/g))
      pending.push(join(dirname(file), path!));
  }
  return [...seen];
}

/** What went into these files, by their source maps: paths as esbuild wrote them. */
function sourcesOf(files: string[]): string[] {
  return files.flatMap((file) => (JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] }).sources);
}

describe('the shipped entry (package.json "main"), as a cold start loads it', () => {
  const main = (JSON.parse(readFileSync('package.json', 'utf8')) as { main: string }).main;
  const loaded = sourcesOf(staticGraph(main));

  it('when a fresh process imports it, then it loads none of the SDKs that only a first token, the queue path or a certificate needs', () => {
    const lazy = [
      '@azure/identity',
      '@azure/msal-node',
      'node-forge',
      '@azure/data-tables',
      '@azure/storage-blob',
      '@azure/storage-queue',
      '@azure/keyvault-secrets',
    ];
    const found = lazy.filter((name) => loaded.some((source) => source.includes(`node_modules/${name}/`)));
    assert.deepEqual(found, []);
  });

  it('when a fresh process imports it, then every trigger and the send path are in what it loads', () => {
    for (const file of [
      'src/functions/send.ts',
      'src/functions/outbound-queue.ts',
      'src/functions/health-check.ts',
      'src/mail/mail-request.ts',
      'src/transport/mailbox-transport.ts',
    ]) {
      assert.ok(
        loaded.some((source) => source.endsWith(file)),
        file,
      );
    }
  });
});
