import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Caller } from '../auth/resolve-caller.js';
import { errorResponse } from '../http/error-response.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';
import { getQueueRuntime } from '../queue/queue-runtime.js';
import { callerRoute } from './caller-route.js';

/** GET /api/messages/{id}: where a queued request stands. */
async function messageStatusFor(request: HttpRequest, context: InvocationContext, caller: Caller): Promise<HttpResponseInit> {
  void caller;
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

export const messageStatus = callerRoute('message-status', { methods: ['GET'], route: 'messages/{id}' }, messageStatusFor);
