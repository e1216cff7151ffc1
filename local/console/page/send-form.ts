// The Send view: a mail request posted to the app with the local function key, as any caller would,
// and the answer shown; after a 202 from /api/enqueue, the request's record until it is decided.
import type { AppError, MessageRecord, Session } from './api-types.js';
import { diagnosisBox, fieldProblems } from './diagnosis-box.js';
import { $, appFetch, el, messageOf } from './shared.js';

const addresses = (value: string): string[] =>
  value
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);

/** A form field's value: an input, a text area, or the checked one of a radio group. */
function fieldValue(form: HTMLFormElement, name: string): string {
  const field = form.elements.namedItem(name);
  if (field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement || field instanceof RadioNodeList)
    return field.value;
  throw new Error(`the send form has no field named ${name}`);
}

async function attachmentsOf(
  input: HTMLInputElement,
): Promise<{ filename: string; contentType?: string; contentBase64: string }[]> {
  return Promise.all(
    [...(input.files ?? [])].map(async (file) => {
      const bytes = new Uint8Array(await file.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return { filename: file.name, ...(file.type && { contentType: file.type }), contentBase64: btoa(binary) };
    }),
  );
}

async function submitSend(session: Session, form: HTMLFormElement): Promise<void> {
  const value = (name: string) => fieldValue(form, name).trim();
  const request: Record<string, unknown> = { to: addresses(value('to')), subject: fieldValue(form, 'subject') };
  if (value('from')) request['from'] = value('from');
  if (value('cc')) request['cc'] = addresses(value('cc'));
  if (value('bcc')) request['bcc'] = addresses(value('bcc'));
  if (fieldValue(form, 'text')) request['text'] = fieldValue(form, 'text');
  if (fieldValue(form, 'html')) request['html'] = fieldValue(form, 'html');
  if (value('idempotencyKey')) request['idempotencyKey'] = value('idempotencyKey');
  const routeName = fieldValue(form, 'route');
  const submit = $('send-submit', HTMLButtonElement);
  const status = $('send-status');
  submit.disabled = true;
  $('send-answer').hidden = false;
  status.textContent = 'sending...';
  status.className = 'badge';
  $('send-diagnosis').replaceChildren();
  $('send-followup').replaceChildren();
  $('send-body').textContent = '';
  try {
    const attachments = await attachmentsOf($('send-files', HTMLInputElement));
    if (attachments.length) request['attachments'] = attachments;
    const response = await appFetch(routeName, session.functionKey, { method: 'POST', body: JSON.stringify(request) });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    status.textContent = `${response.status} ${response.statusText}`;
    status.className = `badge ${response.ok ? 'ok' : 'bad'}`;
    $('send-body').textContent = typeof body === 'string' ? body || '(empty body)' : JSON.stringify(body, null, 2);
    const answer = typeof body === 'object' && body !== null ? (body as { error?: AppError; id?: string }) : undefined;
    const error = answer?.error;
    if (error) {
      $('send-diagnosis').replaceChildren(
        diagnosisBox(
          error.diagnosis,
          el('p', {}, el('strong', {}, `${error.code}: `), error.message, fieldProblems(error.details)),
        ),
      );
    }
    if (response.status === 202 && answer?.id) void followQueued(session, answer.id);
  } catch (error) {
    status.textContent = 'not sent';
    status.className = 'badge bad';
    $('send-body').textContent = messageOf(error);
  } finally {
    submit.disabled = false;
  }
}

/** After a 202: GET /api/messages/{id} until it is sent or failed. */
async function followQueued(session: Session, id: string): Promise<void> {
  const followup = $('send-followup');
  const line = el('p', { class: 'muted' }, `Queued as ${id}; waiting for the outcome...`);
  followup.replaceChildren(line);
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const response = await appFetch(`messages/${encodeURIComponent(id)}`, session.functionKey);
    const record = (await response.json().catch(() => ({}))) as MessageRecord;
    if (record.status === 'sent' || record.status === 'failed') {
      followup.replaceChildren(
        el(
          'p',
          {},
          `GET /api/messages/${id}: `,
          el('span', { class: `badge ${record.status === 'sent' ? 'ok' : 'bad'}` }, record.status),
        ),
        diagnosisBox(
          record.diagnosis,
          record.status === 'failed' ? el('p', {}, 'It is on the Dead letters tab.') : undefined,
        ),
      );
      return;
    }
    line.textContent = `Queued as ${id}: ${record.status ?? response.status}, attempt ${record.attempts ?? 0}...`;
  }
}

/** The senders to pick from, the mailbox as the default From, and the form's submit. */
export function wireSendForm(session: Session): void {
  $('senders').replaceChildren(...session.allowedSenders.map((a) => el('option', { value: a })));
  if (session.mailbox) $('send-from', HTMLInputElement).placeholder = session.mailbox;
  const form = $('send-form', HTMLFormElement);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submitSend(session, form);
  });
}
