import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Caller } from '../auth/resolve-caller.js';
import { BudgetExhausted } from '../budget/budget.js';
import { budgetDiagnosis } from '../budget/budget-diagnosis.js';
import { errorResponse } from '../http/error-response.js';
import { logEvent } from '../telemetry/log-event.js';
import { readMailRequest } from '../http/read-mail-request.js';
import { checkCallerPolicy } from '../mail/caller-policy-check.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import { inCallRetryPolicy, withRetries } from '../pipeline/retry.js';
import { getSendRecords } from '../runtime/queue-runtime.js';
import { sendAnswer, sendOnce } from '../pipeline/send-once.js';
import { getRuntime } from '../runtime/runtime.js';
import { trackMailEvent } from '../telemetry/mail-events.js';
import { callerRoute } from './caller-route.js';
import { tagOf } from '../auth/caller-scope.js';
import { recordIdOf } from '../queue/record-id.js';

/**
 * How long a call waits for the mailbox's budget (a session, the minute) before it answers 429:
 * well inside the callers' usual 30 s timeouts and the host's 230 s for an HTTP response.
 */
const budgetWaitInMs = 20_000;

/**
 * POST /api/send: sends now and answers with Exchange's reply, or with the diagnosis. With storage,
 * the send has a record and its idempotency key names one message, whichever route (send-once.ts).
 */
async function sendMailAs(request: HttpRequest, context: InvocationContext, caller: Caller): Promise<HttpResponseInit> {
  const started = performance.now();
  let id: string | undefined;
  try {
    const { config, sender } = getRuntime();
    const mail = await readMailRequest(request, config);
    checkCallerPolicy(mail, config.mailbox, caller.policy);
    id = mail.idempotencyKey ?? randomUUID();
    // the record is the caller's own: `<app id>:<key>` for an Entra caller (record-id.ts)
    const requestId = recordIdOf(caller, id);
    const send = (request = mail) =>
      withRetries(() => sender.send(request, requestId, { waitUpToMs: budgetWaitInMs }), inCallRetryPolicy, ({ attempt, code }) => {
        logEvent(context, 'retry', { id: requestId, code, attempt });
        trackMailEvent('http', { kind: 'retry', id: requestId, code, attempts: attempt - 1 });
      });
    const records = await getSendRecords();
    const result = { ...(records ? await sendOnce(records, mail, requestId, send, tagOf(caller)) : sendAnswer(await send())), id };
    const durationMs = Math.round(performance.now() - started);
    logEvent(context, 'sent', { id, durationMs });
    trackMailEvent('http', { kind: 'sent', id, messageId: result.messageId, durationMs });
    return { status: 200, jsonBody: result };
  } catch (error) {
    if (error instanceof BudgetExhausted) {
      const { code } = budgetDiagnosis(error);
      trackMailEvent('http', { kind: 'deferred', id, code, mailbox: error.mailbox, delaySeconds: error.retryAfterSeconds });
    }
    if (error instanceof DeliveryFailed) {
      const { code, stage } = error.diagnosis;
      trackMailEvent('http', { kind: 'failed', id, code, stage, attempts: error.attempts.length, durationMs: Math.round(performance.now() - started) });
    }
    return errorResponse(error, context, id);
  }
}

export const sendMail = callerRoute('send', { methods: ['POST'], route: 'send' }, sendMailAs);
