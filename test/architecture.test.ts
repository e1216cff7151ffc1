// Layers point down (issue 19): shared vocabulary sits at the bottom, beside what defines it, and no
// two files import each other, directly or round a loop. This test reads every import of src/,
// cli/ and local/ and keeps it so; its diagnostic prints the folder graph.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findCycle, importsOf, sourceFiles, type ImportEdge } from './import-graph.js';

/** Each folder's layer, lowest first: a file may import its own layer or a lower one, never a higher one. */
const layers: Record<string, number> = {
  // the vocabulary of failure: Diagnosis, the catalogue and its templates, DeliveryFailed, redactSecrets
  'src/diagnosis': 1,
  // ConfigError, the settings and their loader, the storage connection setting
  'src/config': 2,
  // the storage credential and SDK clients (queues, tables, blobs), from a parsed connection
  'src/storage': 3,
  // the mail request: its schema, parsing, composition, sizes, and its rejection
  'src/mail': 4,
  // the app's credential, tokens and their claims
  'src/auth': 5,
  // each mailbox's minute, sessions and day, in this process or in Table storage
  'src/budget': 6,
  // SMTP sessions to Exchange, one transport per mailbox
  'src/transport': 7,
  // Application Insights and the invocation log line
  'src/telemetry': 8,
  // storage-level queue work: status records, dead letters, the envelope, enqueue, requeue
  'src/queue': 9,
  // the send stories (an HTTP send, a queue message) and their retry policies
  'src/pipeline': 10,
  // the synthetic send and GET /api/health's answer; the probe they and the doctor run
  'src/health': 11,
  'src/probe': 11,
  // the HTTP edge: statuses, the OpenAPI document, reading a request
  'src/http': 12,
  // the composition root: builds the runtime from the environment; nothing in src below it imports it
  'src/runtime': 13,
  // the triggers and the entry the host loads
  'src/functions': 14,
  'src/index.ts': 14,
  // the admin command line (the package's bin, never deployed)
  cli: 20,
  // what runs the app on a laptop and in tests: it may use the command line too
  'local/sandbox': 21,
  'local/host': 21,
  'local/console': 21,
};

/** Folders that are not the deployed app's domain code: only they may import @azure/functions. */
const hostAdapters = new Set(['src/functions', 'src/index.ts', 'local/host', 'local/console', 'local/sandbox', 'cli']);

function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'src' && parts.length === 2) return file;
  if (parts[0] === 'cli') return 'cli';
  return `${parts[0]}/${parts[1]}`;
}

const files = sourceFiles(['src', 'cli', 'local']);
const edges: ImportEdge[] = files.flatMap(importsOf);
const local = edges.filter((e) => e.relative);

describe('the import graph of src/, cli/ and local/', () => {
  it('when the graph is read, then every file and every relative import is found', (t) => {
    assert.ok(files.length > 100, `only ${files.length} files read`);
    const known = new Set(files);
    assert.deepEqual(
      local.filter((e) => !known.has(e.to)).map((e) => `${e.from} -> ${e.to}`),
      [],
      'imports that name no .ts file',
    );
    const counts = new Map<string, number>();
    for (const { from, to } of local) {
      const key = `${folderOf(from)} -> ${folderOf(to)}`;
      if (folderOf(from) !== folderOf(to)) counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    t.diagnostic('folder graph (imports per folder pair):');
    for (const [pair, n] of [...counts].sort(([a], [b]) => a.localeCompare(b)))
      t.diagnostic(`${String(n).padStart(3)} ${pair}`);
  });

  it('when a folder holds source, then it has a layer', () => {
    assert.deepEqual(
      [...new Set(files.map(folderOf))].filter((f) => !(f in layers)),
      [],
    );
  });

  it('when files import each other, directly or round a loop, then that is a cycle and fails', () => {
    assert.equal(findCycle(local)?.join(' -> '), undefined);
  });

  it('when a file imports another, then the other is in the same layer or a lower one', () => {
    const upward = local.filter((e) => (layers[folderOf(e.to)] ?? Infinity) > (layers[folderOf(e.from)] ?? -Infinity));
    assert.deepEqual(
      upward.map((e) => `${e.from} -> ${e.to}`),
      [],
    );
  });

  it('when src imports, then never from cli/ or local/ (the deployed app carries neither)', () => {
    const outward = local.filter((e) => e.from.startsWith('src/') && !e.to.startsWith('src/'));
    assert.deepEqual(
      outward.map((e) => `${e.from} -> ${e.to}`),
      [],
    );
  });

  it('when domain code imports, then never @azure/functions (only the triggers and the entry do)', () => {
    const bound = edges.filter(
      (e) => !e.relative && e.to.startsWith('@azure/functions') && !hostAdapters.has(folderOf(e.from)),
    );
    assert.deepEqual(
      bound.map((e) => `${e.from} -> ${e.to}`),
      [],
    );
  });
});
