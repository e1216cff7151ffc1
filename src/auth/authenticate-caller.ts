import { createHash, timingSafeEqual } from 'node:crypto';
import type { CallerAuthSettings } from '../config/caller-auth.js';
import type { CallerIdentity } from './caller.js';
import { CallerRefused } from './caller-refused.js';
import type { CallerTokenVerifier } from './caller-token.js';

/** What the edge hands over from a request: its Authorization header and the key it presents, if any. */
export interface CallerCredentials {
  authorization: string | null;
  /** `x-functions-key` when the header is present (even empty), else `?code=`, as the Functions host reads them. */
  functionKey: string | null;
  /**
   * The route is registered with authLevel `function`: the host let the request through only with
   * a valid key. With `anonymous` nothing was checked before exosend.
   */
  hostCheckedKey: boolean;
}

/**
 * Who is calling, or CallerRefused. A bearer token is taken when the mode takes tokens (entra,
 * both); a key when it takes keys (key, both), checked by the host on `function` routes and by
 * exosend against EXOSEND_CALLER_KEY on anonymous ones. Anything else is 401: no route is ever
 * served to a caller nobody checked.
 */
export async function authenticateCaller(
  credentials: CallerCredentials,
  settings: CallerAuthSettings,
  verifier: () => CallerTokenVerifier,
): Promise<CallerIdentity> {
  const { mode } = settings;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(credentials.authorization ?? '')?.[1];
  if (bearer && mode !== 'key') return verifier().verify(bearer);
  if (mode !== 'entra') {
    if (credentials.hostCheckedKey) return { kind: 'key' };
    if (settings.callerKey && credentials.functionKey !== null && sameKey(credentials.functionKey, settings.callerKey))
      return { kind: 'key' };
  }
  throw new CallerRefused('CALLER_UNAUTHENTICATED', unauthenticatedMessage(mode));
}

function unauthenticatedMessage(mode: CallerAuthSettings['mode']): string {
  if (mode === 'entra')
    return "Send Authorization: Bearer <token>, a token for exosend's API from the caller's managed identity or app registration.";
  if (mode === 'both')
    return "Send Authorization: Bearer <token> for exosend's API, or a valid key in x-functions-key.";
  return 'Send a function key in x-functions-key.';
}

/**
 * Compares SHA-256 digests, always 32 bytes: timingSafeEqual throws on buffers of different
 * lengths, and a length check before it would answer sooner for a key of the wrong length, telling
 * the length of EXOSEND_CALLER_KEY. The digests' time depends on the presented key's length only.
 */
function sameKey(given: string, expected: string): boolean {
  const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
