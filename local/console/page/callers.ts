// The Callers view: each registered caller's policy and its use of each mailbox, as the console's
// server reads them from exosend's storage (local/console/callers.ts): the same ledger the budget
// decides sends by, so "left today" is what the caller can still send before a 429.
import type { CallerView, Session } from './api-types.js';
import { $, api, el, list, messageOf, showError } from './shared.js';

const modeText = {
  key: 'EXOSEND_CALLER_AUTH=key: every caller holds the function key and shares its default policy.',
  entra: 'EXOSEND_CALLER_AUTH=entra: callers present Entra tokens; an app with no policy is refused (403).',
  both: 'EXOSEND_CALLER_AUTH=both: the function key (default policy) or an Entra token (the policy of its app).',
};

function rows(c: CallerView): HTMLElement[] {
  const name = el(
    'td',
    { rowspan: String(Math.max(1, c.mailboxes.length)) },
    el('strong', {}, c.displayName),
    c.keyHolders ? el('small', { class: 'muted' }, 'default policy') : el('small', { class: 'muted app-id' }, c.appId),
    el('small', { class: 'muted' }, `share ${c.share}`),
  );
  const policy = [
    el(
      'td',
      { rowspan: String(Math.max(1, c.mailboxes.length)) },
      c.keyHolders ? 'any allowed sender' : list(c.senders),
    ),
    el('td', { rowspan: String(Math.max(1, c.mailboxes.length)) }, list(c.recipients)),
  ];
  const operator = el('td', { rowspan: String(Math.max(1, c.mailboxes.length)) }, c.operator ? 'yes' : 'no');
  return c.mailboxes.map((m, i) =>
    el(
      'tr',
      { 'data-app-id': c.appId, 'data-mailbox': m.mailbox },
      i === 0 ? [name, ...policy] : [],
      el('td', {}, m.mailbox),
      el('td', { class: 'num' }, m.dailyQuota === undefined ? String(m.dayUsed) : `${m.dayUsed} of ${m.dailyQuota}`),
      el(
        'td',
        { class: m.dayRemaining === 0 ? 'num spent' : 'num', 'data-field': 'left' },
        m.dayRemaining === undefined ? "the mailbox's day" : String(m.dayRemaining),
      ),
      el(
        'td',
        { class: 'num', 'data-field': 'minute' },
        `${m.minuteUsed} of its ${m.minuteShare} (of ${m.minuteLimit} in ${m.windowSeconds} s)`,
      ),
      i === 0 ? operator : null,
    ),
  );
}

export async function loadCallers(session: Session): Promise<void> {
  $('callers-mode').textContent = modeText[session.callerAuth];
  if (!session.callers) {
    showError($('callers-error'), 'No storage is configured (AzureWebJobsStorage): caller policies live there.');
    return;
  }
  try {
    const { callers } = await api<{ callers: CallerView[] }>('callers');
    showError($('callers-error'), '');
    $('caller-count').textContent = callers.length ? String(callers.length) : '';
    $('callers-empty').hidden = callers.length > 0;
    $('callers-table').hidden = callers.length === 0;
    $('callers-rows').replaceChildren(...callers.flatMap(rows));
  } catch (error) {
    showError($('callers-error'), messageOf(error));
  }
}
