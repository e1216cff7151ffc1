import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSettingsFile, SettingsFileError } from './settings-file.js';

/**
 * What `npm start` leaves for `exosend doctor --sandbox` while its sandbox runs: the app settings
 * that point at the stand-ins, as a local.settings.json (so `--settings` reads it too), and beside
 * `Values` who wrote it and the CA the stand-ins' certificates come from.
 */
export interface SandboxSettings {
  file: string;
  /** The CA to trust (NODE_EXTRA_CA_CERTS) to reach the stand-ins. */
  ca: string;
  /** The process that runs the sandbox: the settings mean nothing once it is gone. */
  pid: number;
  scenario: string;
}

/** EXOSEND_STATE_DIR, as `npm start` resolves it. */
export const stateDir = (env: Record<string, string | undefined> = process.env) =>
  resolve(env['EXOSEND_STATE_DIR'] ?? '.exosend');

export const sandboxSettingsFile = (dir: string) => join(dir, 'sandbox.settings.json');

export function writeSandboxSettings(
  dir: string,
  values: Record<string, string>,
  sandbox: Omit<SandboxSettings, 'file'>,
): void {
  // it holds the stand-ins' managed-identity header: readable by its owner only, as the function key
  writeFileSync(
    sandboxSettingsFile(dir),
    `${JSON.stringify({ IsEncrypted: false, Values: values, Sandbox: sandbox }, null, 2)}\n`,
    { mode: 0o600 },
  );
}

/** Removes the file, if this process wrote it (a second `npm start` on the same state directory may have since). */
export function removeSandboxSettings(dir: string, pid: number): void {
  const file = sandboxSettingsFile(dir);
  try {
    if (sandboxOf(file).pid === pid) rmSync(file, { force: true });
  } catch {
    // gone or unreadable already: nothing of ours to remove
  }
}

/** The sandbox that runs from `dir`; a SettingsFileError says, in words, why there is none. */
export function readSandboxSettings(dir: string): SandboxSettings {
  const file = sandboxSettingsFile(dir);
  readSettingsFile(file); // the same checks as --settings FILE (missing, not JSON, no Values)
  const sandbox = sandboxOf(file);
  if (!isRunning(sandbox.pid))
    throw new SettingsFileError(file, `was left by a sandbox (process ${sandbox.pid}) that is no longer running`);
  return sandbox;
}

function sandboxOf(file: string): SandboxSettings {
  const { Sandbox: s } = JSON.parse(readFileSync(file, 'utf8')) as { Sandbox?: Partial<SandboxSettings> };
  if (typeof s?.ca !== 'string' || !Number.isInteger(s.pid) || typeof s.scenario !== 'string')
    throw new SettingsFileError(file, 'has no "Sandbox" object: `npm start` did not write it');
  return { file, ca: s.ca, pid: s.pid!, scenario: s.scenario };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
