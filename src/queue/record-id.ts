import { keyCallerId } from '../auth/caller.js';
import type { CallerTag } from '../auth/caller-scope.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';
import { RequestRejected } from '../mail/request-rejected.js';

/**
 * Records belong to their caller. An Entra caller's request id is kept as `<app id>:<key>`, so two
 * callers may use one idempotency key without meeting; function-key callers (and producers that put
 * a request on the queue themselves) keep the bare key, today's namespace, so records written before
 * caller identities stay readable. A caller only ever sees its own key.
 */
const appIdPrefix = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:/i;

/** An id a record, an envelope or a dead letter may hold: a key, or an app id and a key. */
export function isRecordId(id: string): boolean {
  return idempotencyKeyPattern.test(keyOfRecordId(id));
}

/** The longest record id: an app id, a colon and a 128-character key. */
export const maxRecordIdLength = 37 + 128;

/** The record id of a caller's key (a key of its own, or one exosend gave its request). */
export function recordIdOf(caller: Pick<CallerTag, 'id'>, key: string): string {
  if (caller.id === keyCallerId) {
    // Regression: under EXOSEND_CALLER_AUTH=both a key holder could name `<app id>:<key>` and claim,
    // repeat or probe an Entra caller's record. That namespace is the app callers' own.
    if (appIdPrefix.test(key)) {
      throw new RequestRejected(
        'INVALID_REQUEST',
        'An idempotencyKey may not start with an app id and a colon: that form is reserved for the records of callers with Entra tokens.',
        [{ path: 'idempotencyKey', message: 'starts with <GUID>:' }],
      );
    }
    return key;
  }
  if (!appIdPrefix.test(`${caller.id}:`))
    throw new TypeError('an Entra caller is named by its app (client) id, a GUID');
  return `${caller.id.toLowerCase()}:${key}`;
}

/** The key a caller knows its request by, from the record id. */
export function keyOfRecordId(recordId: string): string {
  return appIdPrefix.test(recordId) ? recordId.slice(37) : recordId;
}

/** The caller a record belongs to: the one it names, or the function-key callers for a record from before caller identities. */
export const ownerOf = (record: { caller?: string }): string => record.caller ?? keyCallerId;
