// Shared by the CLI (the doctor against the sandbox) and the local tools, which may import cli/ but not the reverse.
import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';

const exitWithParent = new URL('./exit-with-parent.js', import.meta.url).href;

/**
 * Starts a Node script that stops when this process goes, however it goes: a signal without a
 * handler or a crash runs no 'exit' listener, and a process group of its own (`detached`) does not
 * hear a terminal's Ctrl-C. The child holds an IPC channel to this process; when the channel closes,
 * it stops itself (exit-with-parent.ts).
 */
export function spawnWithParent(script: string, args: string[], options: ForkOptions = {}): ChildProcess {
  const child = fork(script, args, {
    ...options,
    execArgv: [...(options.execArgv ?? []), '--import', exitWithParent],
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // the channel is for the child to notice this process going, not to keep it running
  child.channel?.unref();
  return child;
}
