/**
 * What a recipient's status code in a delivery report (RFC 3463 enhanced codes, as Exchange Online
 * writes them) means, and what to do: the catalogue for mail Exchange accepted and then could not
 * deliver. Stable codes: GET /api/messages/{id}, the outcomes queue and telemetry carry them.
 */
export const bounceCodes = [
  'RECIPIENT_NOT_FOUND',
  'RECIPIENT_MAILBOX_FULL',
  'RECIPIENT_MAILBOX_DISABLED',
  'BLOCKED_AS_SPAM',
  'REJECTED_BY_POLICY',
  'MESSAGE_TOO_LARGE_FOR_RECIPIENT',
  'ROUTING_FAILED',
  'SENDER_REJECTED',
  'DELIVERY_DELAYED',
  'DELIVERY_EXPIRED',
  'RECIPIENT_REJECTED',
] as const;

export type BounceCode = (typeof bounceCodes)[number];

export interface BounceDiagnosis {
  code: BounceCode;
  cause: string;
  fix: string;
  /** A permanent failure (5.x.x): sending it again will fail again. */
  permanent: boolean;
  /**
   * The address does not exist (5.1.x permanent): every later send to it fails, and each one counts
   * against the sending mailbox's reputation, so exosend stops sending to it. A full mailbox or a
   * delay never suppresses: they pass.
   */
  suppress: boolean;
}

type Entry = Omit<BounceDiagnosis, 'code' | 'permanent'>;

const catalogue: Record<BounceCode, Entry> = {
  RECIPIENT_NOT_FOUND: {
    suppress: true,
    cause:
      "The recipient's address does not exist (5.1.x, Exchange's 5.1.10 RecipientNotFound): the domain's mail server knows no such mailbox.",
    fix: 'Correct the address at its source. exosend no longer sends to it (RECIPIENT_SUPPRESSED); once it is fixed, `exosend suppression remove <address>`.',
  },
  RECIPIENT_MAILBOX_FULL: {
    suppress: false,
    cause: "The recipient's mailbox is full (5.2.2 / 4.2.2); the message was not stored.",
    fix: 'Nothing on the sending side: the recipient must make room. Send again later.',
  },
  RECIPIENT_MAILBOX_DISABLED: {
    suppress: false,
    cause: "The recipient's mailbox exists but is disabled or does not accept mail (5.2.1).",
    fix: "Ask the recipient's organisation whether the address is still in use.",
  },
  BLOCKED_AS_SPAM: {
    suppress: false,
    cause:
      "The recipient's system refused the message as spam, or the sending IP or domain is on a block list (5.7.x).",
    fix: 'Check SPF, DKIM and DMARC of the From domain, and the sending mailbox in Microsoft Defender > Restricted entities; then ask the recipient to allow the sender.',
  },
  REJECTED_BY_POLICY: {
    suppress: false,
    cause:
      "The recipient's organisation refused the message by policy (5.7.x): a transport rule, a group that takes mail only from some senders, or an authentication requirement.",
    fix: "Read the report's detail for the rule; ask the recipient's admin to allow the sender.",
  },
  MESSAGE_TOO_LARGE_FOR_RECIPIENT: {
    suppress: false,
    cause: "The message is larger than the recipient's system takes (5.3.4 / 5.2.3).",
    fix: 'Send smaller attachments, or a link instead of the file.',
  },
  ROUTING_FAILED: {
    suppress: false,
    cause: "Exchange could not route the message to the recipient's domain (5.4.x: no MX, a DNS failure, a loop).",
    fix: "Check the recipient's domain is spelled right and has mail servers (its MX record).",
  },
  SENDER_REJECTED: {
    suppress: false,
    cause: "The recipient's server refused the sender's address (5.1.7 / 5.1.8): the recipient may well exist.",
    fix: "Check the From domain's SPF, DKIM and DMARC, and whether the sending mailbox is restricted (Microsoft Defender > Restricted entities).",
  },
  DELIVERY_DELAYED: {
    suppress: false,
    cause:
      "Exchange has not delivered the message yet and keeps trying (4.x.x): the recipient's server is slow, busy or refusing for now.",
    fix: 'Nothing yet: Exchange tries for up to two days and reports again if it gives up.',
  },
  DELIVERY_EXPIRED: {
    suppress: false,
    cause: 'Exchange gave up after trying for its retry period (4.4.7 / 5.4.7 expired).',
    fix: "The recipient's server was unreachable for days: check the address and its domain, then send again.",
  },
  RECIPIENT_REJECTED: {
    suppress: false,
    cause: "The recipient's system refused the message (a permanent failure the catalogue does not name).",
    fix: "Read the report's detail; it quotes the recipient's server.",
  },
};

/**
 * The catalogue's reading of a recipient's status code, the report's Action and the server's
 * words; undefined for a success (2.x.x). Exchange writes detail codes of three digits (5.1.351,
 * 5.4.316). A 4.x.x with Action `failed` is a try Exchange gave up on: permanent for the message.
 */
export function diagnoseBounce(
  statusCode: string | undefined,
  action: string = 'failed',
  detail = '',
): BounceDiagnosis | undefined {
  const match = /^([245])\.(\d{1,3})\.(\d{1,3})$/.exec(statusCode ?? '');
  if (!match || match[1] === '2') return undefined;
  const [, klass, subject, detailCode] = match;
  const permanent = klass === '5' || action === 'failed';
  const code = bounceCode(klass === '5', action === 'delayed', subject!, detailCode!, detail);
  return { code, permanent, ...catalogue[code] };
}

function bounceCode(
  permanent: boolean,
  delayed: boolean,
  subject: string,
  detailCode: string,
  text: string,
): BounceCode {
  if (delayed) return 'DELIVERY_DELAYED';
  if (subject === '4' && detailCode === '7') return 'DELIVERY_EXPIRED';
  if (!permanent) return subject === '2' && detailCode === '2' ? 'RECIPIENT_MAILBOX_FULL' : 'DELIVERY_EXPIRED';
  if (subject === '1' && (detailCode === '7' || detailCode === '8')) return 'SENDER_REJECTED';
  if (subject === '1') return 'RECIPIENT_NOT_FOUND';
  if (subject === '2' && detailCode === '2') return 'RECIPIENT_MAILBOX_FULL';
  if (subject === '2' && detailCode === '1') return 'RECIPIENT_MAILBOX_DISABLED';
  if ((subject === '3' && detailCode === '4') || (subject === '2' && detailCode === '3'))
    return 'MESSAGE_TOO_LARGE_FOR_RECIPIENT';
  if (subject === '4') return 'ROUTING_FAILED';
  if (subject === '7')
    return /spam|block ?list|blacklist|reputation|quarantin|banned|blocked using/i.test(text)
      ? 'BLOCKED_AS_SPAM'
      : 'REJECTED_BY_POLICY';
  return 'RECIPIENT_REJECTED';
}
