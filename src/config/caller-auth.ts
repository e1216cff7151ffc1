import { z } from 'zod';
import { ConfigError } from './config-error.js';

/**
 * How callers prove who they are (EXOSEND_CALLER_AUTH): `key` a function key the Functions host
 * checks (one default policy), `entra` a bearer token for exosend's API that exosend checks
 * itself (a policy per calling app), `both` either one, during a migration.
 */
export const callerAuthModes = ['key', 'entra', 'both'] as const;
export type CallerAuthMode = (typeof callerAuthModes)[number];

/** The app role a caller's token must hold to use the API (declared on exosend's API app registration). */
export const sendRole = 'Mail.Send.Exosend';

export interface CallerAuthSettings {
  mode: CallerAuthMode;
  /**
   * Audiences a caller's token may carry: the API's Application ID URI (v1.0 tokens carry what the
   * caller asked for) and its client ID (v2.0 tokens always carry the client ID).
   */
  audiences: readonly string[];
  /**
   * With `both` the routes are anonymous at the host, which then checks no key: exosend compares
   * the key a caller presents with this one itself. Undefined in `key` (the host checks) and `entra`.
   */
  callerKey: string | undefined;
}

const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const schema = z.object({
  EXOSEND_CALLER_AUTH: z.enum(callerAuthModes, 'must be "key", "entra" or "both"').default('key'),
  EXOSEND_API_AUDIENCE: list.pipe(
    z.array(z.string().regex(/^\S+$/, 'must be a comma-separated list of audiences (Application ID URI, client ID)')),
  ),
  EXOSEND_CALLER_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
});

type Environment = Record<string, string | undefined>;

const names = Object.keys(schema.shape) as (keyof typeof schema.shape)[];

/** The last settings read, by the raw values they were read from: a warm worker parses them once. */
let last: { values: (string | undefined)[]; settings: CallerAuthSettings } | undefined;

/**
 * Read at every request (it is small), and by the route registration: a bad value refuses, never opens.
 * Only its three variables are read, by name: listing the whole environment (process.env) on every
 * request cost /api/send about 100-250 us a message (docs/benchmark-results.md, 2026-12-06).
 */
export function readCallerAuth(env: Environment = process.env): CallerAuthSettings {
  const values = names.map((name) => env[name]);
  if (last && values.every((value, i) => value === last!.values[i])) return last.settings;
  const settings = parseCallerAuth(
    Object.fromEntries(
      names.flatMap((name, i) => (values[i] !== undefined && values[i].trim() !== '' ? [[name, values[i]]] : [])),
    ),
  );
  last = { values, settings };
  return settings;
}

function parseCallerAuth(set: Environment): CallerAuthSettings {
  const parsed = schema.safeParse(set);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ variable: String(issue.path[0]), message: issue.message })),
    );
  }
  const { EXOSEND_CALLER_AUTH: mode, EXOSEND_API_AUDIENCE: audiences, EXOSEND_CALLER_KEY: callerKey } = parsed.data;
  const problems = [];
  if (mode !== 'key' && audiences.length === 0) {
    problems.push({
      variable: 'EXOSEND_API_AUDIENCE',
      message: `is required when EXOSEND_CALLER_AUTH is ${mode} (the API's Application ID URI and client ID)`,
    });
  }
  if (mode === 'both' && !callerKey) {
    problems.push({
      variable: 'EXOSEND_CALLER_KEY',
      message: 'is required when EXOSEND_CALLER_AUTH is both (the host checks no key on anonymous routes)',
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { mode, audiences, callerKey: mode === 'both' ? callerKey : undefined };
}

/**
 * The authLevel a route is registered with: `function` lets the host check keys (`key`);
 * `anonymous` lets bearer callers reach exosend, which then checks every caller itself.
 */
export function hostAuthLevel(mode: CallerAuthMode): 'function' | 'anonymous' {
  return mode === 'key' ? 'function' : 'anonymous';
}
