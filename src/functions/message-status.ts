import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, notFoundResponse } from '../http/error-response.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';
import { getQueueRuntime } from '../runtime/queue-runtime.js';

/** GET /api/messages/{id}: where a queued request stands. */
export async function messageStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const id = request.params['id'] ?? '';
    if (!idempotencyKeyPattern.test(id)) return notFoundResponse(id);
    const record = await (await getQueueRuntime()).store.get(id);
    if (!record) return notFoundResponse(id);
    const { status, attempts, messageId, diagnosis, reason, history } = record;
    return {
      status: 200,
      jsonBody: { id, status, attempts, ...(messageId && { messageId }), ...(status !== 'sent' && diagnosis && { diagnosis }), ...(reason && { reason }), history },
    };
  } catch (error) {
    return errorResponse(error, context);
  }
}

app.http('message-status', { methods: ['GET'], authLevel: 'function', route: 'messages/{id}', handler: messageStatus });
