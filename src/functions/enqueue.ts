import { randomUUID } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse } from '../http/error-response.js';
import { logEvent } from '../telemetry/log-event.js';
import { readMailRequest } from '../http/read-mail-request.js';
import { enqueueOnce } from '../queue/enqueue.js';
import { getQueueRuntime } from '../runtime/queue-runtime.js';

/** POST /api/enqueue: validates exactly as /api/send, stores durably, answers 202 at once. */
export async function enqueueMail(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { config, storage, store } = await getQueueRuntime();
    const mail = await readMailRequest(request, config);
    const { id, status, repeated } = await enqueueOnce(storage, store, mail, mail.idempotencyKey ?? randomUUID());
    logEvent(context, repeated ? 'enqueue.repeated' : 'enqueued', { id, status });
    return {
      status: 202,
      headers: { Location: `/api/messages/${encodeURIComponent(id)}` },
      jsonBody: { id, status },
    };
  } catch (error) {
    return errorResponse(error, context);
  }
}

app.http('enqueue', { methods: ['POST'], authLevel: 'function', route: 'enqueue', handler: enqueueMail });
