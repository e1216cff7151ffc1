// What became of each recipient of a message: GET /api/messages/{id}'s `delivery.recipients`
// (src/queue/message-view.ts), read through the console's own route (console/api/messages/ID), which
// asks the app with the local key. Used by the Outbox's Delivery column and by the message view.
import type { MessageRecord, RecipientDelivery } from './api-types.js';
import { api, el, messageOf } from './shared.js';

/** The recipients' delivery, or why there is none (no record, or the console could not ask). */
export async function loadDelivery(exosendId: string): Promise<RecipientDelivery[] | string> {
  try {
    const record = await api<MessageRecord>(`messages/${encodeURIComponent(exosendId)}`);
    return record.delivery?.recipients ?? 'no delivery record';
  } catch (error) {
    return messageOf(error);
  }
}

/** One chip per recipient: address and status, the code on hover. */
export function deliveryChips(delivery: RecipientDelivery[] | string | undefined): HTMLElement {
  if (delivery === undefined) return el('span', { class: 'muted' }, '...');
  if (typeof delivery === 'string') return el('span', { class: 'muted' }, delivery);
  return el(
    'span',
    { class: 'delivery' },
    delivery.map((d) =>
      el(
        'span',
        {
          class: `status status-${d.status}`,
          'data-recipient': d.recipient,
          title: [d.statusCode, d.diagnosis].filter(Boolean).join(' ') || undefined,
        },
        `${d.recipient}: ${d.status}`,
      ),
    ),
  );
}

/** The message view's table: recipient, status, code, diagnosis, time, source. */
export function deliveryTable(delivery: RecipientDelivery[] | string): HTMLElement {
  if (typeof delivery === 'string') return el('p', { class: 'muted' }, `Delivery: ${delivery}.`);
  return el(
    'table',
    { id: 'delivery-table' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ['Recipient', 'Status', 'Code', 'Diagnosis', 'Time', 'Source'].map((h) => el('th', {}, h)),
      ),
    ),
    el(
      'tbody',
      {},
      delivery.map((d) =>
        el(
          'tr',
          { 'data-recipient': d.recipient },
          el('td', {}, d.recipient),
          el('td', {}, el('span', { class: `status status-${d.status}` }, d.status)),
          el('td', {}, d.statusCode ?? ''),
          el('td', {}, [d.diagnosis ?? '', d.detail ? el('div', { class: 'muted' }, d.detail) : '']),
          el('td', {}, d.at ? new Date(d.at).toLocaleString() : ''),
          el('td', {}, d.source),
        ),
      ),
    ),
  );
}
