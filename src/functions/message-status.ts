import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Caller } from '../auth/resolve-caller.js';
import { errorResponse, notFoundResponse } from '../http/error-response.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';
import { getQueueRuntime } from '../runtime/queue-runtime.js';
import { callerRoute } from './caller-route.js';

/** GET /api/messages/{id}: where a queued request stands. */
async function messageStatusFor(request: HttpRequest, context: InvocationContext, caller: Caller): Promise<HttpResponseInit> {
  void caller;
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

export const messageStatus = callerRoute('message-status', { methods: ['GET'], route: 'messages/{id}' }, messageStatusFor);
