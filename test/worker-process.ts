import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** One process of test/scale-out-worker.ts: an instance of the app, as Flex Consumption places them. */
export interface WorkerProcess {
  role: string;
  child: ChildProcess;
  port?: number;
  /** The app's log lines, as it printed them. */
  lines: string[];
}

/** Starts a worker of `role` (`http`, `queue`, `timer`) with `env` as its settings; resolves once it serves. */
export async function startWorker(
  role: string,
  env: Record<string, string | undefined>,
  workers: WorkerProcess[],
): Promise<WorkerProcess> {
  const child = fork('dist/test/scale-out-worker.js', [role], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const worker: WorkerProcess = { role, child, lines: [] };
  workers.push(worker);
  child.stderr!.resume();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the ${role} worker exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as { ready?: string; port?: number; message?: string };
      if (parsed.ready) {
        worker.port = parsed.port;
        resolve();
      } else worker.lines.push(parsed.message ?? line);
    });
  });
  return worker;
}

/**
 * Stops a worker: `SIGTERM` or `SIGKILL` as the platform may, or `terminate` as the Functions host
 * does (WorkerTerminate: the app's appTerminate hooks run, then the worker exits). Resolves with how it ended.
 */
export async function stopWorker(
  worker: WorkerProcess,
  how: 'SIGTERM' | 'SIGKILL' | 'terminate',
): Promise<{ code: number | null; signal: string | null }> {
  const { child } = worker;
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  if (how === 'terminate') child.send('terminate');
  else child.kill(how);
  const [code, signal] = await exited;
  return { code, signal };
}
