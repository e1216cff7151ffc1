// The Suppressions view: the shared suppression list (src/queue/suppression-list.ts) through the
// console's own calls, as `exosend suppression list/add/remove` (cli/suppression.ts) reads and
// changes it. The changes are POST and DELETE, so the console's guard asks them for their Origin.
import type { Suppression } from './api-types.js';
import { $, api, el, messageOf, showError } from './shared.js';

function notice(text: string): void {
  const status = $('suppression-status');
  status.textContent = text;
  status.hidden = !text;
}

function row(s: Suppression): HTMLElement {
  const button = el('button', { type: 'button' }, 'Remove') as HTMLButtonElement;
  button.addEventListener(
    'click',
    () =>
      void (async () => {
        button.disabled = true;
        try {
          await api(`suppressions/${encodeURIComponent(s.recipient)}`, { method: 'DELETE' });
          notice(`${s.recipient} is no longer suppressed: exosend sends to it again.`);
          await loadSuppressions();
        } catch (error) {
          showError($('suppression-error'), messageOf(error));
          button.disabled = false;
        }
      })(),
  );
  return el(
    'tr',
    { 'data-recipient': s.recipient },
    el('td', {}, s.recipient),
    el('td', {}, s.reason),
    el('td', {}, s.statusCode ?? ''),
    el('td', {}, s.id ?? ''),
    el('td', {}, s.at ? new Date(s.at).toLocaleString() : ''),
    el('td', {}, button),
  );
}

export async function loadSuppressions(): Promise<void> {
  try {
    const { suppressions } = await api<{ suppressions: Suppression[] }>('suppressions');
    showError($('suppression-error'), '');
    $('suppression-count').textContent = suppressions.length ? String(suppressions.length) : '';
    $('suppression-empty').hidden = suppressions.length > 0;
    $('suppression-table').hidden = suppressions.length === 0;
    $('suppression-rows').replaceChildren(...suppressions.map(row));
  } catch (error) {
    showError($('suppression-error'), messageOf(error));
  }
}

/** The form adds the admin's own suppression (reason ADDED_BY_ADMIN, as the CLI writes it). */
export function wireSuppressions(): void {
  const form = $('suppression-form', HTMLFormElement);
  form.addEventListener(
    'submit',
    (event) =>
      void (async () => {
        event.preventDefault();
        const recipient = $('suppression-address', HTMLInputElement).value.trim();
        const reason = $('suppression-reason', HTMLInputElement).value.trim();
        try {
          await api('suppressions', { method: 'POST', body: JSON.stringify({ recipient, ...(reason && { reason }) }) });
          showError($('suppression-error'), '');
          notice(`${recipient} is suppressed: exosend refuses to send to it (RECIPIENT_SUPPRESSED).`);
          form.reset();
          await loadSuppressions();
        } catch (error) {
          showError($('suppression-error'), messageOf(error));
        }
      })(),
  );
}
