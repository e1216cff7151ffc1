import { randomUUID } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse } from '../http/error-response.js';
import { logEvent } from '../http/log.js';
import { readMailRequest } from '../http/read-mail-request.js';
import { requestDigest } from '../mail/request-digest.js';
import { IdempotencyKeyReused } from '../pipeline/errors.js';
import { enqueueRequest } from '../queue/enqueue.js';
import { getQueueRuntime } from '../queue/queue-runtime.js';

/** POST /api/enqueue: validates exactly as /api/send, stores durably, answers 202 at once. */
export async function enqueueMail(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { config, storage, store } = await getQueueRuntime();
    const mail = await readMailRequest(request, config);
    const id = mail.idempotencyKey ?? randomUUID();
    const existing = mail.idempotencyKey ? await store.get(id) : undefined;
    // a record without a digest cannot be compared: refusing is safe, a silent drop is not
    if (existing && existing.digest !== requestDigest(mail)) throw new IdempotencyKeyReused({ id, status: existing.status });
    if (existing) {
      logEvent(context, 'enqueue.repeated', { id, status: existing.status });
    } else {
      await enqueueRequest(storage, store, mail, id);
      logEvent(context, 'enqueued', { id });
    }
    return {
      status: 202,
      headers: { Location: `/api/messages/${encodeURIComponent(id)}` },
      jsonBody: { id, status: existing?.status ?? 'queued' },
    };
  } catch (error) {
    return errorResponse(error, context);
  }
}

app.http('enqueue', { methods: ['POST'], authLevel: 'function', route: 'enqueue', handler: enqueueMail });
