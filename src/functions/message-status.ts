import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse } from '../http/error-response.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';
import { getQueueRuntime } from '../runtime/queue-runtime.js';

/** GET /api/messages/{id}: where a queued request stands. */
export async function messageStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const id = request.params['id'] ?? '';
    if (!idempotencyKeyPattern.test(id)) return notFound(id);
    const record = await (await getQueueRuntime()).store.get(id);
    if (!record) return notFound(id);
    const { status, attempts, messageId, diagnosis, reason, history } = record;
    return {
      status: 200,
      jsonBody: { id, status, attempts, ...(messageId && { messageId }), ...(status !== 'sent' && diagnosis && { diagnosis }), ...(reason && { reason }), history },
    };
  } catch (error) {
    return errorResponse(error, context);
  }
}

function notFound(id: string): HttpResponseInit {
  return { status: 404, jsonBody: { error: { code: 'NOT_FOUND', message: `No message with id "${id.slice(0, 128)}" is known.` } } };
}

app.http('message-status', { methods: ['GET'], authLevel: 'function', route: 'messages/{id}', handler: messageStatus });
