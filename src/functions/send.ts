import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { CallerTag } from '../auth/caller-scope.js';
import type { Caller } from '../auth/resolve-caller.js';
import { errorResponse } from '../http/error-response.js';
import { readMailRequest } from '../http/read-mail-request.js';
import { sendNow, type SendCall } from '../pipeline/send-now.js';
import { getSendRecords } from '../runtime/queue-runtime.js';
import { getRuntime } from '../runtime/runtime.js';
import { callerRoute } from './caller-route.js';

/** POST /api/send: reads the request, and the send story (src/pipeline/send-now.ts) sends it now. */
async function sendMailAs(
  request: HttpRequest,
  context: InvocationContext,
  caller: Caller,
  tag: CallerTag,
): Promise<HttpResponseInit> {
  const call: SendCall = { log: context, caller: tag, startedAt: performance.now() };
  try {
    const { config, sender } = getRuntime();
    const mail = await readMailRequest(request, config);
    const answer = await sendNow(mail, caller, { mailbox: config.mailbox, sender, records: getSendRecords }, call);
    return { status: 200, jsonBody: answer };
  } catch (error) {
    return errorResponse(error, context, call.id);
  }
}

export const sendMail = callerRoute('send', { methods: ['POST'], route: 'send' }, sendMailAs);
