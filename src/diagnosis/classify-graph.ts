import { diagnose } from './diagnose.js';
import type { Diagnosis, DiagnosisCode, DiagnosisContext } from './diagnosis.js';

/** What a Graph call ended with: Graph's answer (status and `{ error: { code, message } }`), or none. */
export interface GraphOutcome {
  status?: number;
  /** Graph's `error.code` (`ErrorAccessDenied`, `MailboxNotEnabledForRESTAPI`, ...). */
  code?: string;
  message?: string;
  retryAfterSeconds?: number;
  /** No answer: `unreachable` (never connected: safe to try again) or `timeout` (may have been accepted). */
  noAnswer?: 'unreachable' | 'timeout';
  /** The system error behind no answer (ECONNREFUSED, ...). */
  detail?: string;
}

/** Graph's error codes (microsoftgraph/microsoft-graph-docs-contrib, concepts/errors.md and the sendMail page), most specific first. */
const codeRules: readonly [RegExp, DiagnosisCode][] = [
  [/^MailboxNotEnabledForRESTAPI$|^MailboxNotSupportedForRESTAPI$/i, 'GRAPH_MAILBOX_NOT_ENABLED'],
  [/^ErrorSendAsDenied$/i, 'SEND_AS_DENIED'],
  [/^ErrorMessageSizeExceeded$|^ErrorRequestEntityTooLarge$|^RequestEntityTooLarge$/i, 'GRAPH_MESSAGE_TOO_LARGE'],
  [/^ErrorMimeContent|^ErrorInvalidMime/i, 'GRAPH_INVALID_MIME'],
  [
    /^ErrorInvalidUser$|^ResourceNotFound$|^ErrorNonExistentMailbox$|^Request_ResourceNotFound$/i,
    'GRAPH_MAILBOX_NOT_FOUND',
  ],
  [/^ErrorAccessDenied$|^Authorization_RequestDenied$|^AccessDenied$/i, 'GRAPH_ACCESS_DENIED'],
  [/^ApplicationThrottled$|^TooManyRequests$|^MailboxConcurrency$/i, 'GRAPH_THROTTLED'],
];

/** A Graph failure as a diagnosis, with Graph's answer kept as the reply (`smtp`, by its historical name). */
export function classifyGraphOutcome(outcome: GraphOutcome, context: DiagnosisContext): Diagnosis {
  const reply = describe(outcome);
  const details = {
    smtp: reply,
    ...(outcome.retryAfterSeconds !== undefined && { retryAfterSeconds: outcome.retryAfterSeconds }),
  };
  if (outcome.noAnswer || outcome.status === undefined) return diagnose('GRAPH_UNAVAILABLE', context, details);
  const byCode = codeRules.find(([rule]) => outcome.code && rule.test(outcome.code))?.[1];
  return diagnose(byCode ?? byStatus(outcome.status), context, details);
}

function byStatus(status: number): DiagnosisCode {
  if (status === 429) return 'GRAPH_THROTTLED';
  if (status === 413) return 'GRAPH_MESSAGE_TOO_LARGE';
  if (status === 401 || status === 403) return 'GRAPH_ACCESS_DENIED';
  if (status === 404) return 'GRAPH_MAILBOX_NOT_FOUND';
  if (status >= 500) return 'GRAPH_UNAVAILABLE';
  return 'GRAPH_REJECTED';
}

/**
 * `403 ErrorAccessDenied: Access is denied.`; an answer starts with its status, as an SMTP reply
 * does, so the pipeline's "may have been accepted" rule reads both alike: a 504 or no answer at
 * all does not start with one.
 */
function describe(o: GraphOutcome): string {
  if (o.noAnswer === 'timeout')
    return `no answer from Microsoft Graph in time (${o.detail ?? 'timeout'}): the message may have been accepted`;
  if (o.noAnswer === 'unreachable' || o.status === undefined)
    return `Microsoft Graph could not be reached (${o.detail ?? 'no connection'})`;
  const text = `${o.code ?? 'error'}: ${o.message ?? ''}`.trim();
  // a gateway timeout says nothing of whether the mailbox took the message
  return o.status === 504
    ? `gateway timeout from Microsoft Graph, the message may have been accepted (HTTP 504 ${text})`
    : `${o.status} ${text}`;
}
