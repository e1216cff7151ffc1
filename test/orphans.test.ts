import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnObserved } from './observed.js';

// Whatever a command starts (Azurite in a process group of its own, the stand-ins, workers) must not
// outlive it, however it ends: a test that failed before its Ctrl-C once left Azurite running, and a
// benchmark stopped by a timeout's SIGTERM left one for 40 minutes.

/** Every process below `root`, from /proc: children, and theirs, in whatever process group. */
function descendants(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // the field after the command's closing parenthesis: state, then the parent's pid
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone while we looked
    }
  }
  const found: number[] = [];
  for (let queue = [root]; queue.length > 0;) {
    const children = parents.get(queue.shift()!) ?? [];
    found.push(...children);
    queue.push(...children);
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    // a zombie has exited; only its parent has not collected it yet
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

const started = new Set<ChildProcess>();
const stateDirs: string[] = [];

/** Starts a command in a process group of its own, as a terminal would, and waits for `ready` in its output. */
async function start(
  kind: 'npm-start' | 'app-child',
  command: string,
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
) {
  const stateDir = mkdtempSync(join(tmpdir(), 'exosend-orphans-'));
  stateDirs.push(stateDir);
  const child = spawnObserved(kind, command, args, {
    env: { ...process.env, EXOSEND_PORT: '0', EXOSEND_STATE_DIR: stateDir, ...env },
    detached: true,
  });
  started.add(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 90_000;
  while (!ready.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`${command} ${args.join(' ')} did not come up:\n${output}`);
    await sleep(100);
  }
  return child;
}

/** Every process a command started, as seen before it was stopped: what the cleanup kills if its test fails. */
const trees = new Map<ChildProcess, number[]>();

/** Sends `signal` to `pid` (a negative one: a process group) and asserts that the command and every process it started are gone. */
async function assertAllStop(child: ChildProcess, signal: NodeJS.Signals, pid = child.pid!) {
  const tree = [child.pid!, ...descendants(child.pid!)];
  trees.set(child, tree);
  assert.ok(tree.length > 1, `the command started its processes: ${tree.join(', ')}`);
  process.kill(pid, signal);
  const deadline = Date.now() + 30_000;
  while (tree.some(alive) && Date.now() < deadline) await sleep(100);
  const left = tree.filter(alive);
  assert.deepEqual(
    left,
    [],
    `after ${signal} to ${pid}, still running: ${left.map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ')).join('; ')}`,
  );
  started.delete(child);
}

describe('nothing is left running', { concurrency: 4 }, () => {
  after(() => {
    for (const child of started) {
      for (const pid of (trees.get(child) ?? [child.pid!, ...descendants(child.pid!)]).filter(alive)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
  });

  const harness = ['dist/test/harness-child.js'];
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGKILL'] as const) {
    it(`when a test process (harness and Azurite) gets ${signal}, then none of its processes is left`, async () => {
      await assertAllStop(await start('app-child', process.execPath, harness, /^ready$/m), signal);
    });
  }

  // a supervisor or a timeout signals npm alone: npm passes SIGTERM to its shell, which does not pass it on
  it('when npm start gets SIGTERM (to npm alone), then the local host, the stand-ins and Azurite all stop', async () => {
    const npm = await start('npm-start', 'npm', ['start', '--', '--sandbox'], /Ctrl-C stops everything/);
    await assertAllStop(npm, 'SIGTERM');
  });

  // what npm start runs after its build, started directly: the build is the same and takes its time
  const localHost = () =>
    start('npm-start', process.execPath, ['dist/local/host/main.js', '--sandbox'], /Ctrl-C stops everything/);

  it('when the terminal closes (SIGHUP to the process group), then the local host, the stand-ins and Azurite all stop', async () => {
    const host = await localHost();
    await assertAllStop(host, 'SIGHUP', -host.pid!);
  });

  it('when the local host crashes (SIGKILL), then its Azurite stops too', async () => {
    const started = await localHost();
    const host = descendants(started.pid!).find((pid) =>
      readFileSync(`/proc/${pid}/environ`, 'utf8').includes('EXOSEND_SANDBOX_CA_TRUSTED=1'),
    );
    assert.ok(host, 'the local host runs');
    await assertAllStop(started, 'SIGKILL', host);
  });

  for (const [signal, to] of [
    ['SIGTERM', 'the benchmark'],
    ['SIGHUP', 'its process group'],
  ] as const) {
    it(`when the benchmark gets ${signal} (to ${to}), then its stand-ins and workers stop`, async () => {
      const out = join(mkdtempSync(join(tmpdir(), 'exosend-orphans-')), 'bench.json');
      stateDirs.push(dirname(out));
      const bench = await start(
        'app-child',
        process.execPath,
        ['dist/bench/main.js', '--quick', '--out', out],
        /\[bench\] 1 warm sends/,
      );
      await assertAllStop(bench, signal, to === 'the benchmark' ? bench.pid! : -bench.pid!);
    });
  }
});
