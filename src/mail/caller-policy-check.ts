import type { MailRequest } from './mail-request.js';
import { RequestRejected } from './request-rejected.js';
import type { CallerPolicy } from '../storage/caller-policy-store.js';

/** Whether a recipient matches one of a policy's patterns: `*`, `*@domain` or an exact address, without regard to case. */
export function recipientAllowed(address: string, patterns: readonly string[]): boolean {
  const wanted = address.toLowerCase();
  return patterns.some(
    (pattern) =>
      pattern === '*' || pattern === wanted || (pattern.startsWith('*@') && wanted.endsWith(pattern.slice(1))),
  );
}

/**
 * The caller's policy, applied to a request before anything is sent or stored: its From must be
 * one of the caller's senders, and every recipient one its patterns allow. One recipient outside
 * them refuses the whole request: nothing goes to the others either.
 */
export function checkCallerPolicy(
  mail: MailRequest,
  defaultFrom: string,
  policy: Pick<CallerPolicy, 'senders' | 'recipients'>,
): void {
  const from = (mail.from ?? defaultFrom).toLowerCase();
  // `*`: any From EXOSEND_ALLOWED_SENDERS allows (checked as the request was read)
  if (!policy.senders.includes('*') && !policy.senders.includes(from)) {
    throw new RequestRejected('SENDER_NOT_ALLOWED', `This caller may not send as ${from}.`, [
      { path: 'from', message: `allowed: ${policy.senders.join(', ')}` },
    ]);
  }
  const fields = ['to', 'cc', 'bcc'] as const;
  const refused = fields.flatMap((field) =>
    mail[field].flatMap((address, i) =>
      recipientAllowed(address, policy.recipients)
        ? []
        : [{ path: `${field}.${i}`, message: `${address} is outside the recipients this caller may mail` }],
    ),
  );
  if (refused.length > 0) {
    throw new RequestRejected(
      'RECIPIENT_NOT_ALLOWED',
      `This caller may not mail ${refused.length} of the recipients; nothing was sent.`,
      refused,
    );
  }
}
