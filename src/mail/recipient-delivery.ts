/** What became of a message for one recipient, as far as exosend has heard. */
export const recipientStatuses = [
  'pending',
  'delivered',
  'delayed',
  'failed',
  'quarantined',
  'filtered',
  'unknown',
] as const;

export type RecipientStatus = (typeof recipientStatuses)[number];

/** Who said so: Exchange's reply to RCPT TO, a delivery report read back from the mailbox, message trace, the horizon passing in silence, or exosend's suppression list (not sent at all). */
export const deliverySources = ['smtp', 'report', 'trace', 'horizon', 'suppression'] as const;

export type DeliverySource = (typeof deliverySources)[number];

export interface RecipientDelivery {
  recipient: string;
  status: RecipientStatus;
  /** The enhanced status code (RFC 3463) the source gave, such as `5.1.10`. */
  statusCode?: string;
  /** The bounce catalogue's code (src/diagnosis/bounce-diagnosis.ts) when it knows the status code. */
  diagnosis?: string;
  /** The remote server's own words (Diagnostic-Code), cut short. */
  detail?: string;
  /** When the source said so (ISO 8601). */
  at: string;
  source: DeliverySource;
}

/** Final states a later `delayed` may not overwrite: a delay report that arrives after the bounce says nothing new. */
export const finalStatuses: ReadonlySet<RecipientStatus> = new Set(['delivered', 'failed', 'quarantined', 'filtered']);

/**
 * How a new word on a recipient combines with what is known: a final state stays final unless a
 * later final state replaces it (a trace row that says quarantined after a bounce said failed is
 * rare, but the later word wins); `pending` and `delayed` give way to anything newer.
 */
export function supersedes(
  next: Pick<RecipientDelivery, 'status' | 'at'>,
  current: Pick<RecipientDelivery, 'status' | 'at'> | undefined,
): boolean {
  if (!current) return true;
  // pending is no news at all: any word replaces it, whatever its clock says (a report's time is
  // Exchange's, to the second, and can read earlier than exosend's own record of the send)
  if (current.status === 'pending') return true;
  if (finalStatuses.has(current.status) && !finalStatuses.has(next.status)) return false;
  if (!finalStatuses.has(current.status) && finalStatuses.has(next.status)) return true;
  return next.at >= current.at;
}

/**
 * A pending recipient with no news after the horizon is `unknown`: Exchange's 250 says the
 * message was accepted, not that it arrived, so silence never becomes `delivered`.
 */
export function withHorizon(
  delivery: RecipientDelivery,
  sentAt: string | undefined,
  horizonInMs: number,
  now = Date.now(),
): RecipientDelivery {
  if (delivery.status !== 'pending' || !sentAt || Date.parse(sentAt) + horizonInMs > now) return delivery;
  return {
    ...delivery,
    status: 'unknown',
    at: new Date(Date.parse(sentAt) + horizonInMs).toISOString(),
    source: 'horizon',
  };
}
