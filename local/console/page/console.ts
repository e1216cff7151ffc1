// The exosend local console: plain DOM, no framework (four views and a form do not need one). This
// entry reads the session, wires each view and follows the URL hash between them; each view is a
// module of its own. Everything from a message or a letter goes in as text, never as markup
// (shared.ts); a message's HTML is shown only in the sandboxed frame, served with its own
// Content-Security-Policy (console-server.ts).
import type { Session } from './api-types.js';
import { loadDeadLetters, watchDeadLetters } from './dead-letters.js';
import { loadHealth, wireHealth } from './health.js';
import { openMessage, wireMessageTabs } from './message-view.js';
import { listenForMail, loadOutbox, watchDeliveries } from './outbox.js';
import { loadSuppressions, wireSuppressions } from './suppressions.js';
import { loadCallers } from './callers.js';
import { wireSendForm } from './send-form.js';
import { $, all, api, messageOf, showError } from './shared.js';

const views = ['outbox', 'dead-letters', 'suppressions', 'callers', 'health', 'send'];

/** Shows the view the hash names (#outbox/ID opens a message), and loads what it shows. */
function route(session: Session): void {
  const [view, id] = (location.hash.slice(1) || 'outbox').split('/');
  const current = view !== undefined && views.includes(view) ? view : 'outbox';
  for (const v of views) $(`view-${v}`).hidden = v !== current;
  for (const a of all('nav a')) a.classList.toggle('active', a.dataset['view'] === current);
  if (current === 'outbox' && id) void openMessage(session, decodeURIComponent(id));
  if (current === 'dead-letters') void loadDeadLetters();
  else $('dead-status').hidden = true;
  if (current === 'suppressions') void loadSuppressions();
  if (current === 'callers') void loadCallers(session);
  if (current === 'health') void loadHealth(session);
}

async function start(): Promise<void> {
  let session: Session;
  try {
    session = await api<Session>('session');
  } catch (error) {
    showError($('fatal'), `The console could not reach exosend: ${messageOf(error)}. Is npm start still running?`);
    return;
  }
  $('mode').textContent = session.mode;
  wireSendForm(session);
  wireHealth(session);
  wireMessageTabs();
  wireSuppressions();
  window.addEventListener('hashchange', () => route(session));
  try {
    await loadOutbox(session);
  } catch (error) {
    showError($('fatal'), messageOf(error));
  }
  listenForMail(session);
  watchDeliveries(session);
  if (session.deadLetters) watchDeadLetters();
  route(session);
}

void start();
