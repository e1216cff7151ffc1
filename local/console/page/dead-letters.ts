// The Dead letters view: the poison queue with each letter's diagnosis, and a button that puts a
// letter back on the intake queue. The queue has no event to listen to: the view looks again now
// and then while the page is shown.
import type { DeadLetterView, RequeueOutcome } from './api-types.js';
import { diagnosisBox, fieldProblems } from './diagnosis-box.js';
import { $, api, el, messageOf, showError } from './shared.js';

let requeueing = false;

function letterView(item: DeadLetterView): HTMLElement {
  const letter = item.letter;
  const result = el('p', { class: 'error', hidden: true });
  const button = el(
    'button',
    { type: 'button', disabled: Boolean(item.notRequeueable) },
    'Put back on the intake queue',
  ) as HTMLButtonElement;
  button.addEventListener(
    'click',
    () =>
      void (async () => {
        button.disabled = true;
        requeueing = true;
        try {
          const outcome = await api<RequeueOutcome>(`dead-letters/${encodeURIComponent(item.messageId)}/requeue`, {
            method: 'POST',
            body: '{}',
          });
          const status = $('dead-status');
          status.textContent =
            outcome.kind === 'requeued'
              ? `Back on the queue: ${outcome.id} will be tried again in a moment (watch the Outbox).`
              : `${outcome.id} was not put back: its record says ${outcome.status}, so it is already back on the queue or sent. The letter is removed.`;
          status.hidden = false;
          await loadDeadLetters();
        } catch (error) {
          showError(result, messageOf(error));
          button.disabled = false;
        } finally {
          requeueing = false;
        }
      })(),
  );
  if (!letter) {
    return el(
      'div',
      { class: 'letter' },
      el('h3', {}, `Queue message ${item.messageId}`),
      el('p', {}, item.notRequeueable),
      el('pre', {}, item.raw ?? ''),
    );
  }
  const request =
    letter.request && typeof letter.request === 'object'
      ? (letter.request as { subject?: string; to?: string | string[] })
      : undefined;
  const history = Array.isArray(letter.history) ? (letter.history as { at: string; code: string }[]) : [];
  return el(
    'div',
    { class: 'letter', 'data-id': String(letter.id) },
    el('h3', {}, `${letter.code ?? 'FAILED'}: ${request?.subject ?? String(letter.id)}`),
    el(
      'dl',
      { class: 'meta' },
      el('dt', {}, 'Request id'),
      el('dd', {}, String(letter.id)),
      el('dt', {}, 'Failed at'),
      el('dd', {}, letter.failedAt ? new Date(letter.failedAt).toLocaleString() : ''),
      el('dt', {}, 'Attempts'),
      el('dd', {}, String(letter.attempts ?? '')),
      request ? [el('dt', {}, 'To'), el('dd', {}, ([] as string[]).concat(request.to ?? []).join(', '))] : [],
    ),
    diagnosisBox(
      letter.diagnosis,
      letter.reason
        ? el(
            'p',
            {},
            el('strong', {}, 'Reason: '),
            typeof letter.reason === 'string' ? letter.reason : JSON.stringify(letter.reason),
          )
        : undefined,
    ),
    fieldProblems(letter.details),
    el('h4', {}, 'History'),
    history.length
      ? el(
          'ol',
          {},
          history.map((h) => el('li', {}, `${new Date(h.at).toLocaleString()}: ${h.code}`)),
        )
      : el('p', { class: 'muted' }, 'Failed on its first try.'),
    el(
      'div',
      { class: 'toolbar' },
      button,
      item.notRequeueable ? el('span', { class: 'muted' }, `Cannot be put back: ${item.notRequeueable}.`) : '',
    ),
    result,
  );
}

export async function loadDeadLetters(): Promise<void> {
  try {
    const { letters } = await api<{ letters: DeadLetterView[] }>('dead-letters');
    showError($('dead-error'), '');
    $('dead-count').textContent = letters.length ? String(letters.length) : '';
    $('dead-empty').hidden = letters.length > 0;
    $('dead-list').replaceChildren(...letters.map(letterView));
  } catch (error) {
    showError($('dead-error'), messageOf(error));
  }
}

/** The poison queue has no event to listen to: look again every few seconds while the page is shown. */
export function watchDeadLetters(): void {
  void loadDeadLetters();
  setInterval(() => {
    if (!requeueing && document.visibilityState === 'visible') void loadDeadLetters();
  }, 3000);
}
