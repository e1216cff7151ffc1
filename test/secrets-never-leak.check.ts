// Runs after the whole suite (scripts/test.mjs), alone: every log line and every response the app
// produced in any test process, against every secret, token and function key those processes knew.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { observedDir } from './observed.js';

const jwtShaped = /eyJ[\w-]+\.[\w-]+\.[\w-]*/;
const xoauth2Shaped = /dXNlcj[\w+/=]{16,}/; // base64 of "user=...": an XOAUTH2 initial response

const lines = (file: string) => readFileSync(join(observedDir, file), 'utf8').split('\n').filter((l) => l.trim() !== '');

test('when the suite has run, then no client secret, token or function key appears in anything the app said', (t) => {
  assert.ok(existsSync(observedDir), `${observedDir} is missing: run the suite through scripts/test.mjs`);
  const files = readdirSync(observedDir);
  const observedFiles = files.filter((f) => f.endsWith('.observed.txt'));
  const secretFiles = files.filter((f) => f.endsWith('.secrets.txt'));
  assert.ok(observedFiles.length > 0, 'no test process left what the app said: a check that sees nothing proves nothing');
  assert.deepEqual(
    secretFiles.map((f) => f.replace(/\.secrets\.txt$/, '')).sort(),
    observedFiles.map((f) => f.replace(/\.observed\.txt$/, '')).sort(),
    'each test process leaves both what the app said and the secrets it knew',
  );

  /** Each secret, with the process that knew it: the message must not repeat the secret. */
  const secrets = new Map(secretFiles.flatMap((file) => lines(file).map((secret) => [secret, file] as const)));
  assert.ok(secrets.size > 0, 'no secrets were recorded');
  let observedLines = 0;
  for (const file of observedFiles) {
    const observed = lines(file);
    assert.ok(observed.length > 0, `${file} is empty: that test process drove the app and observed nothing`);
    observedLines += observed.length;
    observed.forEach((line, index) => {
      const where = `${file}:${index + 1}`;
      for (const [secret, source] of secrets) assert.ok(!line.includes(secret), `${where} contains a secret listed in ${source}`);
      assert.doesNotMatch(line, jwtShaped, `${where} contains a JWT`);
      assert.doesNotMatch(line, xoauth2Shaped, `${where} contains an XOAUTH2 string`);
    });
  }
  t.diagnostic(`compared ${observedLines} lines from ${observedFiles.length} test processes with ${secrets.size} secrets, tokens and function keys`);
});
