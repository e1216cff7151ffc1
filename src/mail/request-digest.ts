import { createHash } from 'node:crypto';

/**
 * A fingerprint of a request's content, the same for the same request however its keys are
 * ordered: an idempotency key reused for different content is told apart from a repeat.
 * Takes a request already checked for depth (src/mail/json-limits.ts).
 */
export function requestDigest(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request, sortedKeys)).digest('base64url');
}

function sortedKeys(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
