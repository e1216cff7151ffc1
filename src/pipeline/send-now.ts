import { randomUUID } from 'node:crypto';
import { tagOf, type CallerTag } from '../auth/caller-scope.js';
import type { Caller } from '../auth/resolve-caller.js';
import { BudgetExhausted } from '../budget/budget.js';
import { budgetDiagnosis } from '../budget/budget-diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import { checkCallerPolicy } from '../mail/caller-policy-check.js';
import type { MailRequest } from '../mail/mail-request.js';
import { dropSuppressed } from '../queue/drop-suppressed.js';
import { recordIdOf } from '../queue/record-id.js';
import type { Suppression } from '../queue/suppression-list.js';
import { logEvent, type LogContext } from '../telemetry/log-event.js';
import { trackMailEvent } from '../telemetry/mail-events.js';
import type { MailSender, SendResult } from './mail-sender.js';
import { inCallRetryPolicy, withRetries } from './retry.js';
import {
  claimSend,
  recordFailure,
  recordSent,
  sendAnswer,
  type RecordedSendDeps,
  type SendAnswer,
} from './send-once.js';

/**
 * How long a call waits for the mailbox's budget (a session, the minute) before it answers 429:
 * well inside the callers' usual 30 s timeouts and the host's 230 s for an HTTP response.
 */
const budgetWaitInMs = 20_000;

export interface SendNowDeps {
  /** The default mailbox: the From of a request that names none, as the caller's policy sees it. */
  mailbox: string;
  sender: Pick<MailSender, 'send'>;
  /** The send records, asked for once the caller may send; undefined without storage: no record, no repeat detection, no suppression. */
  records: () => Promise<RecordedSendDeps | undefined>;
}

/** One call of /api/send, as its edge sees it. */
export interface SendCall {
  log: LogContext;
  /** The caller, as the mailbox's budget holds it (its quota, share and day peers) and telemetry names it. */
  caller: CallerTag;
  /** When the request arrived (performance.now()): durations count from there. */
  startedAt: number;
  /** Set once the caller may send the request: the id the edge names in its answer to a failure. */
  id?: string;
}

/**
 * An HTTP send, validated by its trigger: sent now, and answered with Exchange's reply. With
 * storage, the send has a record and its idempotency key names one message, whichever route
 * (send-once.ts). A failure is thrown as it came, for the edge to answer.
 */
export async function sendNow(
  mail: MailRequest,
  caller: Caller,
  deps: SendNowDeps,
  call: SendCall,
): Promise<SendAnswer> {
  // nothing is stored or sent for a request the caller may not make
  checkCallerPolicy(mail, deps.mailbox, caller.policy);
  const id = (call.id = mail.idempotencyKey ?? randomUUID());
  // the record is the caller's own: `<app id>:<key>` for an Entra caller, the key itself for a key caller (record-id.ts)
  const recordId = recordIdOf(caller, id);
  const events = sendEvents(call, id);
  try {
    // with storage, the id's record is claimed first: a repeat gets the first outcome, other content a 409
    const records = await deps.records();
    const claim = records && (await claimSend(records, mail, recordId, tagOf(caller)));
    if (claim && 'repeat' in claim) return events.sent({ ...claim.repeat, id });
    let sent: SendResult;
    let suppressed: Suppression[];
    try {
      // recipients that hard-bounced before are left out; the rest go, with quick retries in the call
      const kept = await dropSuppressed(records?.suppressions, mail);
      suppressed = kept.suppressed;
      sent = await withRetries(
        () => deps.sender.send(kept.request, recordId, { waitUpToMs: budgetWaitInMs, caller: call.caller }),
        inCallRetryPolicy,
        (attempt) => events.retry(attempt),
      );
    } catch (error) {
      if (records && claim) await recordFailure(records, claim.record, error);
      throw error;
    }
    const answer = records && claim ? await recordSent(records, claim.record, sent, suppressed) : sendAnswer(sent);
    // the caller's own key, whatever the record is named
    return events.sent({ ...answer, id });
  } catch (error) {
    events.failed(error);
    throw error;
  }
}

/** The log lines (`exosend.<event>`) and custom events of one send; the edge logs its answer to a failure. */
function sendEvents(call: SendCall, id: string) {
  const durationMs = () => Math.round(performance.now() - call.startedAt);
  return {
    retry({ attempt, code }: { attempt: number; code: string }): void {
      logEvent(call.log, 'retry', { id, code, attempt });
      trackMailEvent('http', { kind: 'retry', id, code, attempts: attempt - 1 }, call.caller);
    },
    sent(answer: SendAnswer): SendAnswer {
      const ms = durationMs();
      logEvent(call.log, 'sent', { id, durationMs: ms });
      trackMailEvent('http', { kind: 'sent', id, messageId: answer.messageId, durationMs: ms }, call.caller);
      return answer;
    },
    failed(error: unknown): void {
      if (error instanceof BudgetExhausted) {
        const { code } = budgetDiagnosis(error);
        trackMailEvent(
          'http',
          {
            kind: 'deferred',
            id,
            code,
            mailbox: error.mailbox,
            delaySeconds: error.retryAfterSeconds,
          },
          call.caller,
        );
      }
      if (error instanceof DeliveryFailed) {
        const { code, stage } = error.diagnosis;
        trackMailEvent(
          'http',
          {
            kind: 'failed',
            id,
            code,
            stage,
            attempts: error.attempts.length,
            durationMs: durationMs(),
          },
          call.caller,
        );
      }
    },
  };
}
