import { createInterface } from 'node:readline';
import { spawnWithParent } from '../cli/spawn-with-parent.js';
import type { SendChildReport } from './send-child.js';

export const sendChild = 'dist/bench/send-child.js';

export interface SendChildRun {
  report: SendChildReport;
  /** From spawn() in this process to the report's line arriving: process start included. */
  wallMs: number;
}

/** Runs the send child with exosend's settings in its environment; its stderr (test-mode warnings) is dropped. */
export async function runSendChild(args: string[], settings: Record<string, string>): Promise<SendChildRun> {
  const started = performance.now();
  // a benchmark stopped by a signal must not leave a worker sending for minutes
  const child = spawnWithParent(sendChild, args, { env: { ...process.env, ...settings } });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  for await (const line of createInterface({ input: child.stdout! })) {
    if (!line.startsWith('{')) continue;
    const wallMs = performance.now() - started;
    const report = JSON.parse(line) as SendChildReport;
    await exited;
    if (report.failures > 0)
      throw new Error(`send child: ${report.failures} sends failed, first: ${report.firstError}`);
    return { report, wallMs };
  }
  throw new Error(`send child exited (${await exited}) without a report:\n${stderr.trim()}`);
}
