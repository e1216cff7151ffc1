import type { MailRequest } from '../mail/mail-request.js';
import { RequestRejected } from '../mail/request-rejected.js';
import { recipientSuppressedCode, type Suppression, type SuppressionList } from './suppression-list.js';

/** A recipient left out of a send, as the answer lists it. */
export interface DroppedRecipient {
  recipient: string;
  code: typeof recipientSuppressedCode;
  reason: string;
}

/**
 * The request without its suppressed recipients (they hard-bounced before): the others still go.
 * When none is left, the request is refused (403 RECIPIENT_SUPPRESSED), for it would send nothing.
 */
export async function dropSuppressed(
  list: SuppressionList | undefined,
  request: MailRequest,
): Promise<{ request: MailRequest; suppressed: Suppression[] }> {
  if (!list) return { request, suppressed: [] };
  const suppressed = await list.find([...request.to, ...request.cc, ...request.bcc]);
  if (suppressed.length === 0) return { request, suppressed };
  const gone = new Set(suppressed.map((s) => s.recipient));
  const keep = (list: string[]) => list.filter((a) => !gone.has(a.toLowerCase()));
  const kept = { ...request, to: keep(request.to), cc: keep(request.cc), bcc: keep(request.bcc) };
  if (kept.to.length + kept.cc.length + kept.bcc.length === 0) {
    throw new RequestRejected(
      recipientSuppressedCode,
      'Every recipient of this request hard-bounced before and is suppressed; nothing was sent.',
      suppressed.map(asProblem),
    );
  }
  return { request: kept, suppressed };
}

export const asDropped = (s: Suppression): DroppedRecipient => ({
  recipient: s.recipient,
  code: recipientSuppressedCode,
  reason: reasonOf(s),
});

const asProblem = (s: Suppression) => ({ path: 'to', message: `${s.recipient}: ${reasonOf(s)}` });

const reasonOf = (s: Suppression) =>
  `suppressed since ${s.at} (${s.reason}${s.statusCode ? ` ${s.statusCode}` : ''}); an admin removes it with \`exosend suppression remove ${s.recipient}\``;
