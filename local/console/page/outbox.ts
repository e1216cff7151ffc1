// The Outbox view: every message the sandbox's Exchange accepted, newest first, kept up to date by
// the console's server-sent events. A row opens the message (message-view.ts) through the URL hash.
import type { OutboxSummary, RecipientDelivery, Session } from './api-types.js';
import { deliveryChips, loadDelivery } from './delivery.js';
import { $, api, el, list, size, time } from './shared.js';

const outbox = new Map<string, OutboxSummary>();
/** Each message's delivery by exosend id, as last read; a bounce is read back minutes later, so it is read again. */
const deliveries = new Map<string, RecipientDelivery[] | string>();
let selectedId: string | undefined;

function curlLine(session: Session): string {
  return `curl -s -X POST ${session.baseUrl}/api/send -H "x-functions-key: ${session.functionKey}" -H "content-type: application/json" -d '{"to":["someone@fabrikam.example"],"subject":"Hello from exosend","text":"It works."}'`;
}

function renderOutbox(session: Session): void {
  const messages = [...outbox.values()].sort((a, b) => b.receivedAt.localeCompare(a.receivedAt));
  $('outbox-count').textContent = messages.length ? String(messages.length) : '';
  $('outbox-table').hidden = messages.length === 0;
  const empty = $('outbox-empty');
  empty.hidden = messages.length > 0;
  if (messages.length === 0) {
    empty.replaceChildren(
      session.sandbox
        ? 'No mail yet: try the curl line in the terminal, or the Send tab.'
        : 'Real mode: mail goes to Exchange Online, so there is no local outbox.',
      session.sandbox ? el('code', {}, curlLine(session)) : '',
    );
  }
  $('outbox-rows').replaceChildren(
    ...messages.map((m) =>
      el(
        'tr',
        {
          'data-id': m.id,
          class: [m.id === selectedId ? 'selected' : '', m.fresh ? 'new' : ''].join(' ').trim() || undefined,
          onclick: () => (location.hash = `outbox/${encodeURIComponent(m.id)}`),
        },
        el('td', {}, time(m.receivedAt)),
        el('td', {}, callerCell(m)),
        el('td', {}, m.from),
        el('td', {}, list(m.to)),
        el('td', {}, list(m.cc)),
        el('td', {}, list(m.bcc)),
        el('td', {}, m.subject || el('span', { class: 'muted' }, '(no subject)')),
        el('td', { class: 'num' }, size(m.sizeBytes)),
        el(
          'td',
          { class: 'delivery-cell' },
          m.exosendId ? deliveryChips(deliveries.get(m.exosendId)) : el('span', { class: 'muted' }, 'no DSN asked'),
        ),
      ),
    ),
  );
}

/** Who sent it: the caller's display name, and its app id (an Entra caller) beneath. */
export function callerCell(m: OutboxSummary): HTMLElement {
  if (!m.caller) return el('span', { class: 'muted' }, 'unknown');
  return el(
    'span',
    { class: 'caller', title: m.caller.id },
    m.caller.name,
    m.caller.id === 'function-key' ? null : el('small', { class: 'muted app-id' }, m.caller.id),
  );
}

/** Marks the message being read, and shows the mark. */
export function selectMessage(session: Session, id: string): void {
  selectedId = id;
  renderOutbox(session);
}

export async function loadOutbox(session: Session): Promise<void> {
  if (!session.sandbox) return renderOutbox(session);
  const { messages } = await api<{ messages: OutboxSummary[] }>('outbox');
  for (const m of messages) outbox.set(m.id, m);
  renderOutbox(session);
}

/** Each message Exchange accepts from now on, added as it comes (highlighted once). */
export function listenForMail(session: Session): void {
  if (!session.sandbox) return;
  const source = new EventSource('/console/events');
  source.addEventListener('message', (event) => {
    const summary = JSON.parse(event.data as string) as OutboxSummary;
    const row = { ...summary, fresh: true };
    outbox.set(summary.id, row);
    renderOutbox(session);
    row.fresh = false;
  });
}

/** Reads every message's delivery again (console/api/messages/ID, the app's answer) and shows it. */
export async function refreshDeliveries(session: Session): Promise<void> {
  const ids = [...outbox.values()].flatMap((m) => (m.exosendId ? [m.exosendId] : []));
  await Promise.all(ids.map(async (id) => deliveries.set(id, await loadDelivery(id))));
  renderOutbox(session);
}

/** Looks again every few seconds while the Outbox is shown. */
export function watchDeliveries(session: Session): void {
  if (!session.sandbox) return;
  void refreshDeliveries(session);
  setInterval(() => {
    if (document.visibilityState === 'visible' && !$('view-outbox').hidden) void refreshDeliveries(session);
  }, 3000);
}
