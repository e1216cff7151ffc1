import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, notFoundResponse } from '../http/error-response.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';
import { loadDeliverySettings } from '../config/delivery-settings.js';
import { messageView } from '../queue/message-view.js';
import { getQueueRuntime } from '../queue/queue-runtime.js';

/** GET /api/messages/{id}: where a request stands, sent by /api/send or the queue, and what became of each recipient. */
export async function messageStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
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

app.http('message-status', { methods: ['GET'], authLevel: 'function', route: 'messages/{id}', handler: messageStatus });
