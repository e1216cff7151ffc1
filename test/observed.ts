import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where every test process leaves what the app said (`<file>-<pid>.observed.txt`), the secrets
 * it knew (`.secrets.txt`) and the output of every process it started (`<kind>-<pid>.output.txt`),
 * for the suite-wide secret check; scripts/test.mjs empties it first and adds the test runner's
 * own output (every test process's stdout and stderr) as `runner.output.txt`.
 */
export const observedDir = join('.exosend', 'test-observed');

/** What kind of process an output file holds; a full run must have seen each (test/secrets-never-leak.check.ts). */
export type ProcessKind = 'npm-start' | 'exosend-cli' | 'app-child';

/**
 * Starts a process whose stdout and stderr join the secret check, written as they arrive: a process
 * the test kills still leaves what it printed. The file exists from the start, so a process whose
 * output was never captured shows up as an empty file, which the check refuses.
 */
export function spawnObserved(
  kind: ProcessKind,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): ChildProcess {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  mkdirSync(observedDir, { recursive: true });
  const file = join(observedDir, `${kind}-${process.pid}-${child.pid}.output.txt`);
  writeFileSync(file, '');
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => appendFileSync(file, chunk));
  return child;
}

export interface ObservedRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `spawnObserved` to the end: what it printed and its exit code. */
export function runObserved(
  kind: ProcessKind,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<ObservedRun> {
  return new Promise((resolve, reject) => {
    const child = spawnObserved(kind, command, args, options);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
