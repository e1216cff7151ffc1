import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Caller } from '../auth/resolve-caller.js';
import { errorResponse, notFoundResponse } from '../http/error-response.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';
import { loadDeliverySettings } from '../config/delivery-settings.js';
import { messageView } from '../queue/message-view.js';
import { getQueueRuntime } from '../runtime/queue-runtime.js';
import { callerRoute } from './caller-route.js';

/** GET /api/messages/{id}: where a request stands, sent by /api/send or the queue, and what became of each recipient. */
async function messageStatusFor(request: HttpRequest, context: InvocationContext, caller: Caller): Promise<HttpResponseInit> {
  void caller;
  try {
    const id = request.params['id'] ?? '';
    if (!idempotencyKeyPattern.test(id)) return notFoundResponse(id);
    const { store, deliveries } = await getQueueRuntime();
    const record = await store.get(id);
    if (!record) return notFoundResponse(id);
    const rows = (await deliveries?.list(id)) ?? [];
    return { status: 200, jsonBody: messageView(record, rows, loadDeliverySettings().horizonInMs) };
  } catch (error) {
    return errorResponse(error, context);
  }
}

export const messageStatus = callerRoute('message-status', { methods: ['GET'], route: 'messages/{id}' }, messageStatusFor);
