import type { BudgetExhausted, BudgetLimit } from './budget.js';

/** Stable codes, one for each limit: callers, alert rules and queries depend on them. */
export const budgetDiagnosisCodes = [
  'MINUTE_LIMIT_REACHED',
  'DAILY_RECIPIENT_LIMIT_REACHED',
  'CONNECTION_LIMIT_REACHED',
  'CALLER_DAILY_QUOTA_REACHED',
  'CALLER_DAILY_SHARE_REACHED',
] as const;

/** The diagnosis of a message that waits for its mailbox's budget: which limit, when, and what would help. */
export interface BudgetDiagnosis {
  code: (typeof budgetDiagnosisCodes)[number];
  limit: BudgetLimit;
  mailbox: string;
  cause: string;
  fix: string;
  retryable: true;
  retryAfterSeconds: number;
}

const texts: Record<BudgetLimit, Pick<BudgetDiagnosis, 'code' | 'cause' | 'fix'>> = {
  minute: {
    code: 'MINUTE_LIMIT_REACHED',
    cause:
      'The mailbox {mailbox} has sent as many messages in the last minute as EXOSEND_RATE_PER_MINUTE allows (Exchange Online allows 30 a minute per mailbox), counted across every instance of exosend. Nothing was sent.',
    fix: 'Send it again after Retry-After, or use /api/enqueue: queued messages wait for the budget by themselves. For more volume, send from several mailboxes (EXOSEND_MAILBOXES); Exchange Online is not a bulk sender.',
  },
  day: {
    code: 'DAILY_RECIPIENT_LIMIT_REACHED',
    cause:
      'The mailbox {mailbox} has reached EXOSEND_RECIPIENTS_PER_DAY recipients (every To, Cc and Bcc) in a rolling day (Exchange Online allows 10,000), counted across every instance of exosend. Nothing was sent.',
    fix: 'Send it again after Retry-After, when the rolling day has moved on, or use /api/enqueue: queued messages wait for the budget by themselves. For more volume, send from several mailboxes (EXOSEND_MAILBOXES), or move bulk mail to a service made for it.',
  },
  quota: {
    code: 'CALLER_DAILY_QUOTA_REACHED',
    cause:
      "This caller has sent as many recipients in a rolling day as its own daily quota allows (its policy's --daily-quota), counted across every instance of exosend. Nothing was sent; other callers of the mailbox {mailbox} go on sending.",
    fix: 'Send it again after Retry-After, when the rolling day has moved on. An admin raises the quota with `npx exosend caller add <app-id> ... --daily-quota <n>`.',
  },
  share: {
    code: 'CALLER_DAILY_SHARE_REACHED',
    cause:
      "This caller has sent its share of the rolling day of the mailbox {mailbox} (its policy's --share, against the other registered callers' weights), and what is left of the day is kept for the other callers that have not sent theirs yet, counted across every instance of exosend. Nothing was sent; the other callers go on sending.",
    fix: 'Send it again after Retry-After, when the rolling day has moved on. An admin gives the caller a larger share with `npx exosend caller add <app-id> ... --share <weight>`, or moves a caller that does not send from this mailbox off it (its --senders).',
  },
  connections: {
    code: 'CONNECTION_LIMIT_REACHED',
    cause:
      'Every SMTP session the mailbox {mailbox} may hold (EXOSEND_MAX_CONNECTIONS, one kept for the health check) was busy with other sends, across every instance of exosend, for as long as this call could wait. Nothing was sent.',
    fix: 'Send it again after Retry-After, or use /api/enqueue: queued messages wait for the budget by themselves.',
  },
};

export function budgetDiagnosis(error: BudgetExhausted): BudgetDiagnosis {
  const text = texts[error.limit];
  return {
    ...text,
    cause: text.cause.replaceAll('{mailbox}', error.mailbox),
    limit: error.limit,
    mailbox: error.mailbox,
    retryable: true,
    retryAfterSeconds: error.retryAfterSeconds,
  };
}
