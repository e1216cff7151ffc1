// One message of the outbox: its envelope and headers, its text, its attachments as downloads, and
// its HTML only in the sandboxed frame (index.html's `sandbox` attribute, and the policy the server
// sends with the HTML), never in this page.
import type { OutboxDetail, Session } from './api-types.js';
import { deliveryTable, loadDelivery } from './delivery.js';
import { selectMessage } from './outbox.js';
import { $, all, api, el, list, messageOf, showError, size } from './shared.js';

const parts = ['html', 'text', 'headers', 'attachments'];

export function showPart(part: string | undefined): void {
  for (const button of all('.tabs button')) button.classList.toggle('active', button.dataset['part'] === part);
  for (const name of parts) $(`part-${name}`).classList.toggle('shown', name === part);
}

/** The tabs switch between the parts. */
export function wireMessageTabs(): void {
  for (const button of all('.tabs button')) button.addEventListener('click', () => showPart(button.dataset['part']));
}

export async function openMessage(session: Session, id: string): Promise<void> {
  selectMessage(session, id);
  const article = $('message');
  article.hidden = false;
  showError($('message-error'), '');
  try {
    const m = await api<OutboxDetail>(`outbox/${encodeURIComponent(id)}`);
    $('message-subject').textContent = m.subject || '(no subject)';
    const meta: [string, string][] = [
      ['Received', new Date(m.receivedAt).toLocaleString()],
      [
        'Caller',
        m.caller ? (m.caller.id === 'function-key' ? m.caller.name : `${m.caller.name} (${m.caller.id})`) : '',
      ],
      ['From', m.from],
      ['To', list(m.to)],
      ['Cc', list(m.cc)],
      ['Bcc', list(m.bcc)],
      ['Envelope', `MAIL FROM:<${m.envelope.mailFrom}>  RCPT TO: ${m.envelope.rcptTo.map((a) => `<${a}>`).join(' ')}`],
      ['Authenticated as', m.mailbox],
      ['Message-ID', m.messageId],
      ['Size', size(m.sizeBytes)],
    ];
    $('message-meta').replaceChildren(
      ...meta.filter(([, value]) => value).flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]),
    );
    $('message-delivery').replaceChildren(
      m.exosendId
        ? deliveryTable(await loadDelivery(m.exosendId))
        : el('p', { class: 'muted' }, 'Delivery: this message asked for no delivery status notifications.'),
    );
    const frame = $('message-html', HTMLIFrameElement);
    frame.src = m.hasHtml ? `/console/message/${encodeURIComponent(m.id)}/html` : 'about:blank';
    $('part-html').querySelector('.hint')!.textContent = m.hasHtml
      ? 'Rendered in a sandboxed frame: no scripts run and nothing is loaded from the network.'
      : 'This message has no HTML part.';
    frame.hidden = !m.hasHtml;
    $('part-text').textContent = m.text ?? '(no text part)';
    $('part-headers', HTMLTableElement).tBodies[0]!.replaceChildren(
      ...m.headers.map((h) => el('tr', {}, el('td', {}, h.name), el('td', {}, h.value))),
    );
    $('attachment-count').textContent = m.attachments.length ? String(m.attachments.length) : '';
    $('part-attachments').replaceChildren(
      ...(m.attachments.length
        ? m.attachments.map((a) =>
            el(
              'li',
              {},
              el(
                'a',
                { href: `/console/message/${encodeURIComponent(m.id)}/attachments/${a.index}`, download: a.filename },
                a.filename,
              ),
              ` ${a.contentType}, ${size(a.sizeBytes)}`,
            ),
          )
        : [el('li', { class: 'muted' }, 'No attachments.')]),
    );
    showPart(m.hasHtml ? 'html' : 'text');
  } catch (error) {
    showError($('message-error'), messageOf(error));
  }
}
