import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runSendChild } from './child-process.js';
import type { StandIns } from './stand-ins-client.js';
import { median } from './stats.js';

/** A deployable entry and the name the report gives it. */
export interface Entry {
  name: string;
  path: string;
}

export interface EntryLoad {
  name: string;
  path: string;
  /** Median wall time of `node -e "await import(entry)"`, spawn to exit. */
  wallMs: number;
  /** The same, less an empty Node process's: what the entry adds to a cold start. */
  netMs: number;
  /** Median time of the import alone, measured inside the child. */
  importMs: number;
}

export interface FirstSend {
  name: string;
  /** Median time from spawn to the first 200 from /api/send (entry load, vault read, token, SMTP session). */
  wallMs: number;
  /** The same, measured in the child as `performance.now()`: from its own time origin. */
  inProcessMs: number;
}

export interface ColdStart {
  repetitions: number;
  emptyNodeMs: number;
  loads: EntryLoad[];
  firstSends: FirstSend[];
}

/**
 * Fresh Node processes, one after another, entries interleaved so that load on the machine weighs
 * on all alike; medians. Loading happens outside the Functions host (its package prints a test-mode
 * warning), with no settings needed: registration reads none but the queue's name.
 */
export async function measureColdStart(
  standIns: StandIns,
  entries: { loads: Entry[]; firstSends: Entry[] },
  repetitions: { load: number; firstSend: number },
): Promise<ColdStart> {
  for (const entry of [...entries.loads, ...entries.firstSends]) {
    if (!existsSync(entry.path)) throw new Error(`${entry.path} is missing: run the build (npm run build) first`);
  }
  const samples = new Map<string, { wall: number[]; inside: number[] }>();
  const record = (name: string, wall: number, inside: number) => {
    const sample = samples.get(name) ?? { wall: [], inside: [] };
    sample.wall.push(wall);
    sample.inside.push(inside);
    samples.set(name, sample);
  };

  const cases = [{ name: 'empty', path: '' }, ...entries.loads];
  for (let i = 0; i < repetitions.load; i++) {
    for (const { name, path } of cases) {
      const script = path
        ? `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(resolve(path)).href)}); process.stdout.write(String(performance.now() - t));`
        : 'process.stdout.write("0");';
      const started = performance.now();
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const wall = performance.now() - started;
      if (child.status !== 0) throw new Error(`loading ${path} failed:\n${child.stderr.toString()}`);
      record(name, wall, Number(child.stdout.toString()));
    }
  }
  const emptyNodeMs = median(samples.get('empty')!.wall);
  const loads = entries.loads.map(({ name, path }) => {
    const { wall, inside } = samples.get(name)!;
    return { name, path, wallMs: median(wall), netMs: median(wall) - emptyNodeMs, importMs: median(inside) };
  });

  // each child is a new worker: its first send reads the vault, asks for a token and opens a session
  await standIns.reset();
  for (let i = 0; i < repetitions.firstSend; i++) {
    for (const { name, path } of entries.firstSends) {
      const { report, wallMs } = await runSendChild(['--entry', path, '--count', '1'], standIns.settings);
      record(`first:${name}`, wallMs, report.firstAcceptedAtMs ?? NaN);
    }
  }
  const firstSends = entries.firstSends.map(({ name }) => {
    const { wall, inside } = samples.get(`first:${name}`)!;
    return { name, wallMs: median(wall), inProcessMs: median(inside) };
  });
  return { repetitions: repetitions.load, emptyNodeMs, loads, firstSends };
}
