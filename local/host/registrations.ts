import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import functions, {
  type AppTerminateHandler,
  type HttpFunctionOptions,
  type StorageQueueFunctionOptions,
  type TimerFunctionOptions,
} from '@azure/functions';

export type HttpRegistration = HttpFunctionOptions & { name: string };
export type QueueRegistration = StorageQueueFunctionOptions & { name: string };
export type TimerRegistration = TimerFunctionOptions & { name: string };

export interface Registrations {
  http: HttpRegistration[];
  queues: QueueRegistration[];
  timers: TimerRegistration[];
  /** What the entry exports: `resetRuntime` lets a host start the app's state cold, as a new worker would. */
  entry: Record<string, unknown>;
  /** The app's appTerminate hooks: a host runs them when it stops the app, as the worker does on WorkerTerminate. */
  terminate: AppTerminateHandler[];
}

/**
 * Runs the app's appTerminate hooks one after another, as the Node worker does before it exits
 * (Azure/azure-functions-nodejs-worker: src/eventHandlers/terminateWorker.ts).
 */
export async function runTerminateHooks(registrations: Pick<Registrations, 'terminate'>): Promise<void> {
  for (const hook of registrations.terminate) await hook(new functions.AppTerminateContext());
}

/**
 * Learns every function the app registers by loading the entry the Functions host loads
 * (package.json "main") with `app.http`, `app.storageQueue` and `app.timer` intercepted:
 * there is no second list of routes, queues or schedules to drift from the app's own.
 */
export async function loadRegistrations(projectDir = '.'): Promise<Registrations> {
  const found: Registrations = { http: [], queues: [], timers: [], entry: {}, terminate: [] };
  const app = functions.app as unknown as Record<'http' | 'storageQueue' | 'timer', unknown>;
  const kinds = ['http', 'storageQueue', 'timer'] as const;
  const originals = kinds.map((kind) => app[kind]);
  // outside the host the package is in test mode, where a hook registers nothing and never runs
  const hook = functions.app.hook as unknown as Record<'appTerminate', unknown>;
  const originalTerminate = hook.appTerminate;
  app.http = (name: string, options: HttpFunctionOptions) => found.http.push({ ...options, name });
  app.storageQueue = (name: string, options: StorageQueueFunctionOptions) => found.queues.push({ ...options, name });
  app.timer = (name: string, options: TimerFunctionOptions) => found.timers.push({ ...options, name });
  hook.appTerminate = (handler: AppTerminateHandler) => found.terminate.push(handler);
  try {
    const { main } = JSON.parse(readFileSync(resolve(projectDir, 'package.json'), 'utf8')) as { main: string };
    found.entry = (await import(pathToFileURL(resolve(projectDir, main)).href)) as Record<string, unknown>;
  } finally {
    kinds.forEach((kind, i) => (app[kind] = originals[i]));
    hook.appTerminate = originalTerminate;
  }
  return found;
}

/** Resolves `%SETTING%` in a binding value, as the host does with app settings. */
export function resolveSettings(value: string, env: Record<string, string | undefined> = process.env): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const setting = env[name];
    if (setting === undefined)
      throw new Error(`The binding expression %${name}% names an app setting that is not set.`);
    return setting;
  });
}
