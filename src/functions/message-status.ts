import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Caller } from '../auth/resolve-caller.js';
import { errorResponse, notFoundResponse } from '../http/error-response.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';
import { loadDeliverySettings } from '../config/delivery-settings.js';
import { messageView } from '../queue/message-view.js';
import { getQueueRuntime } from '../runtime/queue-runtime.js';
import { callerRoute } from './caller-route.js';
import { ownerOf, recordIdOf } from '../queue/record-id.js';

/** The record id of a caller's key; none when the key is of a form the caller can never have been given. */
function ownRecordId(caller: Caller, key: string): string | undefined {
  try {
    return recordIdOf(caller, key);
  } catch {
    return undefined;
  }
}

/** GET /api/messages/{id}: where a request stands, sent by /api/send or the queue, and what became of each recipient. */
async function messageStatusFor(
  request: HttpRequest,
  context: InvocationContext,
  caller: Caller,
): Promise<HttpResponseInit> {
  try {
    const id = request.params['id'] ?? '';
    if (!idempotencyKeyPattern.test(id)) return notFoundResponse(id);
    // only the caller's own records: another caller's key is not found, never "not yours"
    const recordId = ownRecordId(caller, id);
    const { store, deliveries } = await getQueueRuntime();
    const record = recordId === undefined ? undefined : await store.get(recordId);
    if (!record || ownerOf(record) !== caller.id) return notFoundResponse(id);
    const rows = (await deliveries?.list(record.id)) ?? [];
    return { status: 200, jsonBody: { ...messageView(record, rows, loadDeliverySettings().horizonInMs), id } };
  } catch (error) {
    return errorResponse(error, context);
  }
}

export const messageStatus = callerRoute(
  'message-status',
  { methods: ['GET'], route: 'messages/{id}' },
  messageStatusFor,
);
