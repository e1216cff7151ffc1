import { fork } from 'node:child_process';
import { once } from 'node:events';
import { resetRuntime } from '../src/runtime/runtime.js';
import type { StandInMessage, StandInRequest } from './stand-ins-process.js';
import type { StandInInfo, StandInOperations } from './stand-ins.js';

/** Loopback send capacity is far above Exchange's 30 a minute: pacing is off except where it is measured. */
export const unpacedRatePerMinute = '10000000';

type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export interface StandIns extends Remote<StandInOperations> {
  info: StandInInfo;
  /** exosend's app settings for the stand-ins, pacing off. */
  settings: Record<string, string>;
  /** Starts exosend cold in this process (as a new worker) with `settings` and these on top. */
  restartApp(extra?: Record<string, string>): void;
  close(): Promise<void>;
}

/** Forks the stand-ins' process (it inherits NODE_EXTRA_CA_CERTS) and talks to it over IPC. */
export async function launchStandIns(): Promise<StandIns> {
  const child = fork('dist/bench/stand-ins-process.js', [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 0;
  const ready = new Promise<StandInInfo>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the stand-ins' process exited (${code}) before it was ready`)));
    child.on('message', (message: StandInMessage) => {
      if ('ready' in message) return resolve(message.ready as StandInInfo);
      const call = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) call?.reject(new Error(`stand-ins: ${message.error}`));
      else call?.resolve(message.result);
    });
  });
  const info = await ready;
  child.on('exit', (code) => {
    for (const call of pending.values()) call.reject(new Error(`the stand-ins' process exited (${code})`));
    pending.clear();
  });
  // T is what the stand-ins' operation returns (StandInOperations); the IPC channel carries it as it is
  const call = <T>(operation: StandInRequest['operation'], ...args: unknown[]) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, operation, args } satisfies StandInRequest);
    });

  const settings = { ...info.settings, EXOSEND_RATE_PER_MINUTE: unpacedRatePerMinute };
  const applied = new Set<string>();
  const restartApp = (extra: Record<string, string> = {}) => {
    resetRuntime();
    for (const name of applied) delete process.env[name];
    for (const [name, value] of Object.entries({ ...settings, ...extra })) {
      applied.add(name);
      process.env[name] = value;
    }
  };

  return {
    info,
    settings,
    restartApp,
    setLimits: (limits) => call('setLimits', limits),
    reset: () => call('reset'),
    counts: (mailbox) => call('counts', mailbox),
    acceptedTimes: () => call('acceptedTimes'),
    acceptedTimesByMailbox: () => call('acceptedTimesByMailbox'),
    graphCounts: () => call('graphCounts'),
    async close() {
      resetRuntime();
      for (const name of applied) delete process.env[name];
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      await call('close');
      await exited;
    },
  };
}
