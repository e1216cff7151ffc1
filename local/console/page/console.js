// The exosend local console: plain DOM, no framework (four views and a form do not need one).
// Everything from a message or a letter goes in as text (textContent), never as markup; a message's
// HTML is shown only in the sandboxed frame, served with its own Content-Security-Policy.
'use strict';

const $ = (id) => document.getElementById(id);
let session;
const outbox = new Map();
let selectedId;

/** An element with attributes and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  return node;
}

function showError(target, message) {
  target.textContent = message;
  target.hidden = !message;
}

/** A console call; throws an Error with the server's message. */
async function api(path, options = {}) {
  const response = await fetch(`/console/api/${path}`, {
    ...options,
    headers: { 'x-exosend-console': '1', ...(options.body ? { 'content-type': 'application/json' } : {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error?.message ?? `The console answered ${response.status}.`);
  return body;
}

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');
const size = (bytes) => (bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`);
const list = (addresses) => addresses.join(', ');

// ---- views and navigation

const views = ['outbox', 'dead-letters', 'health', 'send'];
function route() {
  const [view, id] = (location.hash.slice(1) || 'outbox').split('/');
  const current = views.includes(view) ? view : 'outbox';
  for (const v of views) $(`view-${v}`).hidden = v !== current;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === current);
  if (current === 'outbox' && id) openMessage(decodeURIComponent(id));
  if (current === 'dead-letters') loadDeadLetters();
  else $('dead-status').hidden = true;
  if (current === 'health') loadHealth();
}

// ---- outbox

function curlLine() {
  return `curl -s -X POST ${session.baseUrl}/api/send -H "x-functions-key: ${session.functionKey}" -H "content-type: application/json" -d '{"to":["someone@fabrikam.example"],"subject":"Hello from exosend","text":"It works."}'`;
}

function renderOutbox() {
  const messages = [...outbox.values()].sort((a, b) => b.receivedAt.localeCompare(a.receivedAt));
  $('outbox-count').textContent = messages.length ? String(messages.length) : '';
  $('outbox-table').hidden = messages.length === 0;
  const empty = $('outbox-empty');
  empty.hidden = messages.length > 0;
  if (messages.length === 0) {
    empty.replaceChildren(session.sandbox ? 'No mail yet: try the curl line in the terminal, or the Send tab.' : 'Real mode: mail goes to Exchange Online, so there is no local outbox.', session.sandbox ? el('code', {}, curlLine()) : '');
  }
  $('outbox-rows').replaceChildren(
    ...messages.map((m) =>
      el(
        'tr',
        { 'data-id': m.id, class: [m.id === selectedId ? 'selected' : '', m.fresh ? 'new' : ''].join(' ').trim() || undefined, onclick: () => (location.hash = `outbox/${encodeURIComponent(m.id)}`) },
        el('td', {}, time(m.receivedAt)),
        el('td', {}, m.from),
        el('td', {}, list(m.to)),
        el('td', {}, list(m.cc)),
        el('td', {}, list(m.bcc)),
        el('td', {}, m.subject || el('span', { class: 'muted' }, '(no subject)')),
        el('td', { class: 'num' }, size(m.sizeBytes)),
      ),
    ),
  );
}

async function loadOutbox() {
  if (!session.sandbox) return renderOutbox();
  const { messages } = await api('outbox');
  for (const m of messages) outbox.set(m.id, m);
  renderOutbox();
}

function listenForMail() {
  if (!session.sandbox) return;
  const source = new EventSource('/console/events');
  source.addEventListener('message', (event) => {
    const summary = JSON.parse(event.data);
    outbox.set(summary.id, { ...summary, fresh: true });
    renderOutbox();
    outbox.get(summary.id).fresh = false;
  });
}

function showPart(part) {
  for (const button of document.querySelectorAll('.tabs button')) button.classList.toggle('active', button.dataset.part === part);
  for (const name of ['html', 'text', 'headers', 'attachments']) $(`part-${name}`).classList.toggle('shown', name === part);
}

async function openMessage(id) {
  selectedId = id;
  renderOutbox();
  const article = $('message');
  article.hidden = false;
  showError($('message-error'), '');
  try {
    const m = await api(`outbox/${encodeURIComponent(id)}`);
    $('message-subject').textContent = m.subject || '(no subject)';
    const meta = [
      ['Received', new Date(m.receivedAt).toLocaleString()],
      ['From', m.from],
      ['To', list(m.to)],
      ['Cc', list(m.cc)],
      ['Bcc', list(m.bcc)],
      ['Envelope', `MAIL FROM:<${m.envelope.mailFrom}>  RCPT TO: ${m.envelope.rcptTo.map((a) => `<${a}>`).join(' ')}`],
      ['Authenticated as', m.mailbox],
      ['Message-ID', m.messageId],
      ['Size', size(m.sizeBytes)],
    ].filter(([, value]) => value);
    $('message-meta').replaceChildren(...meta.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]));
    const frame = $('message-html');
    frame.src = m.hasHtml ? `/console/message/${encodeURIComponent(m.id)}/html` : 'about:blank';
    $('part-html').querySelector('.hint').textContent = m.hasHtml
      ? 'Rendered in a sandboxed frame: no scripts run and nothing is loaded from the network.'
      : 'This message has no HTML part.';
    frame.hidden = !m.hasHtml;
    $('part-text').textContent = m.text ?? '(no text part)';
    $('part-headers').tBodies[0].replaceChildren(...m.headers.map((h) => el('tr', {}, el('td', {}, h.name), el('td', {}, h.value))));
    $('attachment-count').textContent = m.attachments.length ? String(m.attachments.length) : '';
    $('part-attachments').replaceChildren(
      ...(m.attachments.length
        ? m.attachments.map((a) =>
            el('li', {}, el('a', { href: `/console/message/${encodeURIComponent(m.id)}/attachments/${a.index}`, download: a.filename }, a.filename), ` ${a.contentType}, ${size(a.sizeBytes)}`),
          )
        : [el('li', { class: 'muted' }, 'No attachments.')]),
    );
    showPart(m.hasHtml ? 'html' : 'text');
  } catch (error) {
    showError($('message-error'), error.message);
  }
}

// ---- dead letters

function diagnosisBox(diagnosis, extra) {
  if (!diagnosis) return extra ? el('div', { class: 'diagnosis' }, extra) : '';
  return el(
    'div',
    { class: 'diagnosis' },
    el('p', {}, el('span', { class: 'code' }, diagnosis.code), ` at stage ${diagnosis.stage}${diagnosis.retryable ? ' (retryable)' : ''}`),
    diagnosis.smtp ? el('p', {}, el('strong', {}, 'Reply: '), diagnosis.smtp) : '',
    el('p', {}, el('strong', {}, 'Cause: '), diagnosis.cause),
    el('p', {}, el('strong', {}, 'Fix: '), diagnosis.fix),
    extra ?? '',
  );
}

let requeueing = false;

function letterView(item) {
  const letter = item.letter;
  const result = el('p', { class: 'error', hidden: true });
  const button = el('button', { type: 'button', disabled: Boolean(item.notRequeueable) }, 'Put back on the intake queue');
  button.addEventListener('click', async () => {
    button.disabled = true;
    requeueing = true;
    try {
      const outcome = await api(`dead-letters/${encodeURIComponent(item.messageId)}/requeue`, { method: 'POST', body: '{}' });
      const status = $('dead-status');
      status.textContent = outcome.kind === 'requeued'
        ? `Back on the queue: ${outcome.id} will be tried again in a moment (watch the Outbox).`
        : `${outcome.id} was not put back: its record says ${outcome.status}, so it is already back on the queue or sent. The letter is removed.`;
      status.hidden = false;
      await loadDeadLetters();
    } catch (error) {
      showError(result, error.message);
      button.disabled = false;
    } finally {
      requeueing = false;
    }
  });
  if (!letter) {
    return el('div', { class: 'letter' }, el('h3', {}, `Queue message ${item.messageId}`), el('p', {}, item.notRequeueable), el('pre', {}, item.raw ?? ''));
  }
  const request = letter.request && typeof letter.request === 'object' ? letter.request : undefined;
  const history = Array.isArray(letter.history) ? letter.history : [];
  return el(
    'div',
    { class: 'letter', 'data-id': String(letter.id) },
    el('h3', {}, `${letter.code ?? 'FAILED'}: ${request?.subject ?? letter.id}`),
    el(
      'dl',
      { class: 'meta' },
      el('dt', {}, 'Request id'), el('dd', {}, String(letter.id)),
      el('dt', {}, 'Failed at'), el('dd', {}, letter.failedAt ? new Date(letter.failedAt).toLocaleString() : ''),
      el('dt', {}, 'Attempts'), el('dd', {}, String(letter.attempts ?? '')),
      request ? [el('dt', {}, 'To'), el('dd', {}, [].concat(request.to ?? []).join(', '))] : [],
    ),
    diagnosisBox(letter.diagnosis, letter.reason ? el('p', {}, el('strong', {}, 'Reason: '), String(letter.reason)) : undefined),
    Array.isArray(letter.details) && letter.details.length
      ? el('ul', {}, letter.details.map((d) => el('li', {}, el('code', {}, d.path || '(body)'), ` ${d.message}`)))
      : '',
    el('h4', {}, 'History'),
    history.length ? el('ol', {}, history.map((h) => el('li', {}, `${new Date(h.at).toLocaleString()}: ${h.code}`))) : el('p', { class: 'muted' }, 'Failed on its first try.'),
    el('div', { class: 'toolbar' }, button, item.notRequeueable ? el('span', { class: 'muted' }, `Cannot be put back: ${item.notRequeueable}.`) : ''),
    result,
  );
}

async function loadDeadLetters() {
  try {
    const { letters } = await api('dead-letters');
    showError($('dead-error'), '');
    $('dead-count').textContent = letters.length ? String(letters.length) : '';
    $('dead-empty').hidden = letters.length > 0;
    $('dead-list').replaceChildren(...letters.map(letterView));
  } catch (error) {
    showError($('dead-error'), error.message);
  }
}

// ---- health

function stagesTable(stages) {
  if (!stages?.length) return el('p', { class: 'muted' }, 'No stage ran.');
  return el(
    'table',
    {},
    el('thead', {}, el('tr', {}, el('th', {}, 'Stage'), el('th', {}, 'Result'), el('th', { class: 'num' }, 'Time'))),
    el('tbody', {}, stages.map((s) => el('tr', {}, el('td', {}, s.stage), el('td', { class: s.ok ? 'stage-ok' : 'stage-bad' }, s.ok ? 'passed' : 'FAILED'), el('td', { class: 'num' }, `${s.durationMs} ms`)))),
  );
}

function renderHealth(health) {
  const healthy = health.status === 'healthy';
  $('health-summary').replaceChildren(
    el('p', {}, el('span', { class: `badge ${healthy ? 'ok' : 'bad'}` }, healthy ? 'healthy' : 'unhealthy'), ` GET /api/health answered ${health.httpStatus}`, session.sandbox ? ` (scenario: ${session.scenario})` : ''),
  );
  const last = health.lastCheck;
  $('last-check').replaceChildren(
    ...(last
      ? [
          el('p', {}, `${new Date(last.startedAt).toLocaleString()}, ${last.durationMs} ms, ${last.mode === 'send' ? 'with a test message' : 'up to AUTH'}: `, el('span', { class: `badge ${last.ok ? 'ok' : 'bad'}` }, last.ok ? 'passed' : `failed at ${last.failedStage}`)),
          stagesTable(last.stages),
          diagnosisBox(last.diagnosis, last.problem ? el('p', {}, last.problem) : undefined),
          last.secretDaysLeft !== undefined ? el('p', { class: 'muted' }, `The client secret expires in ${last.secretDaysLeft} days.`) : '',
        ]
      : [el('p', { class: 'muted' }, 'No check has run yet (the timer runs it every few minutes): run one now.')]),
  );
  const pre = health.preflight;
  $('preflight').replaceChildren(stagesTable(pre.stages), diagnosisBox(pre.diagnosis, pre.problem ? el('p', {}, pre.problem) : undefined));
}

async function loadHealth() {
  try {
    renderHealth(await api('health'));
    showError($('health-error'), '');
  } catch (error) {
    showError($('health-error'), error.message);
  }
}

async function busy(work) {
  $('health-busy').hidden = false;
  for (const b of document.querySelectorAll('#view-health button')) b.disabled = true;
  try {
    await work();
    showError($('health-error'), '');
  } catch (error) {
    showError($('health-error'), error.message);
  } finally {
    $('health-busy').hidden = true;
    for (const b of document.querySelectorAll('#view-health button')) b.disabled = false;
  }
}

function describeScenario() {
  const chosen = session.scenarios.find((s) => s.name === $('scenario').value);
  $('scenario-description').textContent = chosen?.description ?? '';
}

// ---- send

const addresses = (value) => value.split(',').map((a) => a.trim()).filter(Boolean);

async function attachmentsOf(input) {
  return Promise.all(
    [...input.files].map(async (file) => {
      const bytes = new Uint8Array(await file.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return { filename: file.name, ...(file.type && { contentType: file.type }), contentBase64: btoa(binary) };
    }),
  );
}

async function submitSend(event) {
  event.preventDefault();
  const form = event.target;
  const value = (name) => form.elements[name].value.trim();
  const request = { to: addresses(value('to')), subject: form.elements.subject.value };
  if (value('from')) request.from = value('from');
  if (value('cc')) request.cc = addresses(value('cc'));
  if (value('bcc')) request.bcc = addresses(value('bcc'));
  if (form.elements.text.value) request.text = form.elements.text.value;
  if (form.elements.html.value) request.html = form.elements.html.value;
  if (value('idempotencyKey')) request.idempotencyKey = value('idempotencyKey');
  const routeName = form.elements.route.value;
  const submit = $('send-submit');
  submit.disabled = true;
  $('send-answer').hidden = false;
  $('send-status').textContent = 'sending...';
  $('send-status').className = 'badge';
  $('send-diagnosis').replaceChildren();
  $('send-followup').replaceChildren();
  $('send-body').textContent = '';
  try {
    const attachments = await attachmentsOf(form.elements.files);
    if (attachments.length) request.attachments = attachments;
    const response = await fetch(`/api/${routeName}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': session.functionKey },
      body: JSON.stringify(request),
    });
    const text = await response.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    $('send-status').textContent = `${response.status} ${response.statusText}`;
    $('send-status').className = `badge ${response.ok ? 'ok' : 'bad'}`;
    $('send-body').textContent = typeof body === 'string' ? body || '(empty body)' : JSON.stringify(body, null, 2);
    const error = body?.error;
    if (error) {
      $('send-diagnosis').replaceChildren(
        diagnosisBox(
          error.diagnosis,
          el('p', {}, el('strong', {}, `${error.code}: `), error.message, error.details?.length ? el('ul', {}, error.details.map((d) => el('li', {}, el('code', {}, d.path || '(body)'), ` ${d.message}`))) : ''),
        ),
      );
    }
    if (response.status === 202 && body?.id) followQueued(body.id);
  } catch (error) {
    $('send-status').textContent = 'not sent';
    $('send-status').className = 'badge bad';
    $('send-body').textContent = error.message;
  } finally {
    submit.disabled = false;
  }
}

/** After a 202: GET /api/messages/{id} until it is sent or failed. */
async function followQueued(id) {
  const line = el('p', { class: 'muted' }, `Queued as ${id}; waiting for the outcome...`);
  $('send-followup').replaceChildren(line);
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const response = await fetch(`/api/messages/${encodeURIComponent(id)}`, { headers: { 'x-functions-key': session.functionKey } });
    const record = await response.json().catch(() => ({}));
    if (record.status === 'sent' || record.status === 'failed') {
      $('send-followup').replaceChildren(
        el('p', {}, `GET /api/messages/${id}: `, el('span', { class: `badge ${record.status === 'sent' ? 'ok' : 'bad'}` }, record.status)),
        diagnosisBox(record.diagnosis, record.status === 'failed' ? el('p', {}, 'It is on the Dead letters tab.') : undefined),
      );
      return;
    }
    line.textContent = `Queued as ${id}: ${record.status ?? response.status}, attempt ${record.attempts ?? 0}...`;
  }
}

// ---- start

async function start() {
  try {
    session = await api('session');
  } catch (error) {
    showError($('fatal'), `The console could not reach exosend: ${error.message}. Is npm start still running?`);
    return;
  }
  $('mode').textContent = session.mode;
  $('senders').replaceChildren(...session.allowedSenders.map((a) => el('option', { value: a })));
  if (session.mailbox) $('send-from').placeholder = session.mailbox;
  $('scenario-box').hidden = !session.sandbox;
  $('scenario').replaceChildren(...session.scenarios.map((s) => el('option', { value: s.name, selected: s.name === session.scenario }, s.name)));
  describeScenario();
  $('scenario').addEventListener('change', describeScenario);
  $('scenario-form').addEventListener('submit', (event) => {
    event.preventDefault();
    busy(async () => {
      const { scenario, health } = await api('scenario', { method: 'POST', body: JSON.stringify({ name: $('scenario').value }) });
      session.scenario = scenario;
      renderHealth(health);
    });
  });
  $('run-check').addEventListener('click', () => busy(async () => renderHealth(await api('health/check', { method: 'POST', body: '{}' }))));
  for (const button of document.querySelectorAll('.tabs button')) button.addEventListener('click', () => showPart(button.dataset.part));
  $('send-form').addEventListener('submit', submitSend);
  window.addEventListener('hashchange', route);
  try {
    await loadOutbox();
  } catch (error) {
    showError($('fatal'), error.message);
  }
  listenForMail();
  if (session.deadLetters) {
    loadDeadLetters();
    // the poison queue has no event to listen to: look again now and then
    setInterval(() => {
      if (!requeueing && document.visibilityState === 'visible') loadDeadLetters();
    }, 3000);
  }
  route();
}

start();
