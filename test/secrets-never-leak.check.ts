// Runs after the whole suite (scripts/test.mjs), alone: every log line and every response the app
// produced in any test process, and everything any process of the suite printed (the test
// processes themselves, through the runner's output; npm start, the CLI and the other children the
// tests started, through their own files), against every secret, token and function key those
// processes knew.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { observedDir, type ProcessKind } from './observed.js';

const jwtShaped = /eyJ[\w-]+\.[\w-]+\.[\w-]*/;
const xoauth2Shaped = /dXNlcj[\w+/=]{16,}/; // base64 of "user=...": an XOAUTH2 initial response
/** The processes a full run starts besides the test processes: each must have left its output. */
const startedInAFullRun: ProcessKind[] = ['npm-start', 'exosend-cli', 'app-child'];

/**
 * The lines of `npm start`'s banner (local/host/banner.ts) that show the developer a secret on
 * purpose: its function key (twice: the key, and the curl line that sends with it) and the sample
 * caller's bearer token (once: its curl line). Each is that secret's only allowed place: the secret
 * it shows is checked everywhere else, in every file, this process's other lines included.
 */
const bannerShows: { what: string; pattern: RegExp }[] = [
  { what: 'function key', pattern: /^Function key: (\S+) {2}\(/ },
  { what: 'function key', pattern: /^ {2}curl -s -X POST \S+ -H "x-functions-key: ([^"]+)"/ },
  { what: 'caller token', pattern: /^ {2}curl -s -X POST \S+ -H "Authorization: Bearer ([^"]+)"/ },
];

const lines = (file: string) =>
  readFileSync(join(observedDir, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');

test('when the suite has run, then no client secret, token or function key appears in anything the app said or any process printed', (t) => {
  assert.ok(existsSync(observedDir), `${observedDir} is missing: run the suite through scripts/test.mjs`);
  const files = readdirSync(observedDir);
  const { full } = JSON.parse(readFileSync(join(observedDir, 'suite.json'), 'utf8')) as { full: boolean };
  const observedFiles = files.filter((f) => f.endsWith('.observed.txt'));
  const secretFiles = files.filter((f) => f.endsWith('.secrets.txt'));
  const outputFiles = files.filter((f) => f.endsWith('.output.txt'));
  assert.deepEqual(
    secretFiles.map((f) => f.replace(/\.secrets\.txt$/, '')).sort(),
    observedFiles.map((f) => f.replace(/\.observed\.txt$/, '')).sort(),
    'each test process leaves both what the app said and the secrets it knew',
  );
  // a check that sees nothing proves nothing
  assert.ok(
    outputFiles.includes('runner.output.txt'),
    "the test runner's output (every test process's stdout and stderr) was not kept",
  );
  assert.ok(
    lines('runner.output.txt').some((l) => l.startsWith('# Subtest: ')),
    "the runner's output holds no test: it is not the test processes' output",
  );
  if (full) {
    assert.ok(observedFiles.length > 0, 'no test process left what the app said');
    for (const kind of startedInAFullRun)
      assert.ok(
        outputFiles.some((f) => f.startsWith(`${kind}-`)),
        `no ${kind} process left its output`,
      );
  }

  /** Each secret, with the process that knew it: the message must not repeat the secret. */
  // a token's signature alone is as telling as the token (an Exchange or a Graph one, cut at a dot): it is checked on its own too
  const signatureOf = (secret: string) => (jwtShaped.test(secret) ? secret.split('.')[2] : undefined);
  const secrets = new Map(
    secretFiles.flatMap((file) =>
      lines(file).flatMap((secret) => {
        const signature = signatureOf(secret);
        return [[secret, file] as const, ...(signature && signature.length >= 32 ? [[signature, file] as const] : [])];
      }),
    ),
  );
  // what each npm start banner showed: its secrets join the others, and the lines that show them are
  // allowed to, once each (a second line of the same kind, or the secret anywhere else, fails)
  const shownAt = new Map<string, { line: number; secret: string }[]>();
  for (const file of outputFiles.filter((f) => f.startsWith('npm-start-'))) {
    const printed = lines(file);
    if (!printed.some((l) => l.startsWith('exosend is running in '))) continue; // --help, or it did not come up
    const shown = bannerShows.flatMap(({ what, pattern }) => {
      const line = printed.findIndex((l) => pattern.test(l));
      return line < 0 ? [] : [{ what, line, secret: pattern.exec(printed[line]!)![1]! }];
    });
    assert.ok(
      shown.some((s) => s.what === 'function key'),
      `${file} shows a banner with no function key line: the check no longer knows where the banner shows secrets`,
    );
    shownAt.set(file, shown);
    for (const { secret } of shown)
      for (const value of [secret, signatureOf(secret)])
        if (value && value.length >= 32 && !secrets.has(value)) secrets.set(value, `${file} (its banner)`);
  }
  assert.ok(!full || secrets.size > 0, 'no secrets were recorded');
  let observedLines = 0;
  for (const file of [...observedFiles, ...outputFiles]) {
    const observed = lines(file);
    assert.ok(observed.length > 0, `${file} is empty: that process ran and nothing it said was captured`);
    observedLines += observed.length;
    observed.forEach((printed, index) => {
      const where = `${file}:${index + 1}`;
      // the banner's own line shows its secret: that one secret, there, is not a leak
      const line = (shownAt.get(file) ?? [])
        .filter((s) => s.line === index)
        .reduce((text, s) => text.replaceAll(s.secret, '<shown by the banner>'), printed);
      for (const [secret, source] of secrets)
        assert.ok(!line.includes(secret), `${where} contains a secret listed in ${source}`);
      assert.doesNotMatch(line, jwtShaped, `${where} contains a JWT`);
      assert.doesNotMatch(line, xoauth2Shaped, `${where} contains an XOAUTH2 string`);
    });
  }
  t.diagnostic(
    `compared ${observedLines} lines from ${observedFiles.length} test processes' app output and ${outputFiles.length} processes' stdout and stderr ` +
      `with ${secrets.size} secrets, tokens and function keys`,
  );
});
