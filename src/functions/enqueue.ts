import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Caller } from '../auth/resolve-caller.js';
import { errorResponse } from '../http/error-response.js';
import { logEvent } from '../telemetry/log-event.js';
import { readMailRequest } from '../http/read-mail-request.js';
import { checkCallerPolicy } from '../mail/caller-policy-check.js';
import { enqueueOnce } from '../queue/enqueue.js';
import { getQueueRuntime } from '../runtime/queue-runtime.js';
import { callerRoute } from './caller-route.js';
import { tagOf } from '../auth/caller-scope.js';
import { recordIdOf } from '../queue/record-id.js';

/** POST /api/enqueue: validates exactly as /api/send, stores durably, answers 202 at once. */
async function enqueueMailAs(
  request: HttpRequest,
  context: InvocationContext,
  caller: Caller,
): Promise<HttpResponseInit> {
  try {
    const { config, storage, store } = await getQueueRuntime();
    const mail = await readMailRequest(request, config);
    checkCallerPolicy(mail, config.mailbox, caller.policy);
    const id = mail.idempotencyKey ?? randomUUID();
    // the record is the caller's own: `<app id>:<key>` for an Entra caller (record-id.ts)
    const { status, repeated } = await enqueueOnce(storage, store, mail, recordIdOf(caller, id), tagOf(caller));
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

export const enqueueMail = callerRoute('enqueue', { methods: ['POST'], route: 'enqueue' }, enqueueMailAs);
