import { readFileSync } from 'node:fs';

/** The settings file cannot be used. The message names the file and what is wrong, never a value. */
export class SettingsFileError extends Error {
  override readonly name = 'SettingsFileError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file} ${problem}`);
  }
}

type Environment = Record<string, string | undefined>;

/** The `Values` of a local.settings.json, as the Functions host turns them into app settings; other keys are ignored. */
export function readSettingsFile(file: string): Record<string, string> {
  const fail = (problem: string): never => {
    throw new SettingsFileError(file, problem);
  };
  let text = '';
  try {
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'unknown error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // V8 quotes part of the text in its message, and the file may hold a secret: say only where
    fail(`is not valid JSON${whereInvalid(text, error)}`);
  }
  if (!isObject(parsed) || !isObject(parsed['Values'])) return fail('has no "Values" object');
  if (parsed['IsEncrypted'] === true) fail('is encrypted: run `func settings decrypt` first');
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed['Values'])) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      values[name] = String(value);
    else if (value !== null) fail(`has a Values.${name} that is not a string`);
  }
  return values;
}

/**
 * The file's values for every name the environment leaves unset or blank: the environment wins,
 * as it does when `func start` loads the same file.
 */
export function valuesNotInEnvironment(values: Record<string, string>, env: Environment): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter(([name]) => (env[name] ?? '').trim() === ''));
}

function whereInvalid(text: string, error: unknown): string {
  const position = Number(/position (\d+)/.exec(String((error as Error).message))?.[1]);
  if (!Number.isInteger(position)) return '';
  const before = text.slice(0, position).split('\n');
  return ` (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
