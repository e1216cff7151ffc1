import type { Diagnosis } from '../diagnosis/diagnosis.js';
import { withHorizon, type RecipientDelivery } from '../mail/recipient-delivery.js';
import type { AttemptRecord } from './queue-message.js';
import type { RecipientRow } from './delivery-store.js';
import type { MessageRecord, MessageStatus } from './status-store.js';

/** What GET /api/messages/{id} answers: the record, and what became of each recipient. */
export interface MessageView {
  id: string;
  status: MessageStatus;
  attempts: number;
  messageId?: string;
  diagnosis?: Diagnosis;
  reason?: string;
  history: AttemptRecord[];
  mailbox?: string;
  sentAt?: string;
  delivery?: { recipients: RecipientDelivery[] };
}

/** The record as a caller reads it; recipients past the horizon with no news read `unknown`. */
export function messageView(
  record: MessageRecord,
  rows: readonly RecipientRow[],
  horizonInMs: number,
  now = Date.now(),
): MessageView {
  const { id, status, attempts, messageId, diagnosis, reason, history, mailbox, sentAt } = record;
  const recipients = rows.map(({ smtp: _smtp, ...delivery }) => withHorizon(delivery, sentAt, horizonInMs, now));
  return {
    id,
    status,
    attempts,
    ...(messageId && { messageId }),
    ...(status !== 'sent' && diagnosis && { diagnosis }),
    ...(reason && { reason }),
    history,
    ...(mailbox && { mailbox }),
    ...(sentAt && { sentAt }),
    ...(recipients.length > 0 && { delivery: { recipients } }),
  };
}
