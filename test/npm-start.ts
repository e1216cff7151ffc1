import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnObserved } from './observed.js';

// `npm start` as a developer runs it, for the tests that need the whole local host.

export interface Started {
  child: ChildProcess;
  output: () => string;
  baseUrl: string;
  key: string;
  storage: string;
  stateDir: string;
  /** The banner's curl line that sends with the sample caller's bearer token (EXOSEND_CALLER_AUTH entra or both). */
  bearerCurl: string | undefined;
}

const running = new Set<ChildProcess>();
const stateDirs: string[] = [];

/** After a test file's runs: kills what a failed test left running, and removes each run's state (its function key, CA key, Azurite's data). */
export function cleanUpStarts(): void {
  for (const child of running) process.kill(-child.pid!, 'SIGKILL');
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
}

/** `npm start`, as the README's quick start runs it, in a process group of its own as a terminal would. */
export async function npmStart(args: string[] = [], env: Record<string, string> = {}): Promise<Started> {
  const stateDir = mkdtempSync(join(tmpdir(), 'exosend-start-'));
  // a developer's real local.settings.json would make `npm start` send for real: keep to the sandbox
  if (existsSync('local.settings.json')) args = ['--sandbox', ...args];
  const child = spawnObserved('npm-start', 'npm', ['start', ...(args.length ? ['--', ...args] : [])], {
    env: { ...process.env, EXOSEND_PORT: '0', EXOSEND_STATE_DIR: stateDir, ...env },
    detached: true,
  });
  running.add(child);
  stateDirs.push(stateDir);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while (!/Ctrl-C stops everything/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await sleep(100);
  }
  const field = (pattern: RegExp) => pattern.exec(output)?.[1] ?? assert.fail(`banner lacks ${pattern}:\n${output}`);
  return {
    child,
    output: () => output,
    stateDir,
    baseUrl: field(/Listening on (http:\/\/\S+)/),
    key: field(/Function key: (\S+)/),
    storage: field(/Storage \(Azurite\): (\S+)/),
    bearerCurl: /^ +(curl .*-H "Authorization: Bearer .*)$/m.exec(output)?.[1],
  };
}

/** The request a one-line `curl -s -X METHOD URL -H "..." -d '...'` makes, as fetch makes it (no curl needed). */
export function curlRequest(line: string): { url: string; init: RequestInit } {
  const words = [...line.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  assert.equal(words.shift(), 'curl', line);
  const headers: Record<string, string> = {};
  let method = 'GET';
  let url: string | undefined;
  let body: string | undefined;
  while (words.length > 0) {
    const word = words.shift()!;
    if (word === '-s') continue;
    else if (word === '-X') method = words.shift()!;
    else if (word === '-H') {
      const header = words.shift()!;
      headers[header.slice(0, header.indexOf(':')).trim().toLowerCase()] = header.slice(header.indexOf(':') + 1).trim();
    } else if (word === '-d') {
      body = words.shift()!;
      if (method === 'GET') method = 'POST';
    } else if (!word.startsWith('-') && !url) url = word;
    else assert.fail(`a curl option this test does not read: ${word}`);
  }
  return {
    url: url ?? assert.fail(`no URL in ${line}`),
    init: { method, headers, ...(body !== undefined && { body }) },
  };
}

/** Ctrl-C: SIGINT to the whole process group; resolves when npm has exited. */
export async function ctrlC(started: Started): Promise<void> {
  const exited = once(started.child, 'exit');
  process.kill(-started.child.pid!, 'SIGINT');
  await exited;
  running.delete(started.child);
}
