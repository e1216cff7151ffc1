// A diagnosis as the dead letters, the health checks and the send form show it: code, stage, the
// reply that led there, its cause and its fix; and the fields of a refused request.
import type { Diagnosis, FieldProblem } from './api-types.js';
import { el } from './shared.js';

/** The diagnosis, with `extra` below it; only `extra` when there is no diagnosis, '' when neither. */
export function diagnosisBox(diagnosis: Diagnosis | undefined, extra?: HTMLElement): HTMLElement | string {
  if (!diagnosis) return extra ? el('div', { class: 'diagnosis' }, extra) : '';
  return el(
    'div',
    { class: 'diagnosis' },
    el(
      'p',
      {},
      el('span', { class: 'code' }, diagnosis.code),
      ` at stage ${diagnosis.stage}${diagnosis.retryable ? ' (retryable)' : ''}`,
    ),
    diagnosis.smtp ? el('p', {}, el('strong', {}, 'Reply: '), diagnosis.smtp) : '',
    el('p', {}, el('strong', {}, 'Cause: '), diagnosis.cause),
    el('p', {}, el('strong', {}, 'Fix: '), diagnosis.fix),
    extra ?? '',
  );
}

/** The fields a request was refused for (a letter's or an answer's details), as a list; '' when none. */
export function fieldProblems(details: unknown): HTMLElement | string {
  if (!Array.isArray(details) || details.length === 0) return '';
  return el(
    'ul',
    {},
    (details as FieldProblem[]).map((d) => el('li', {}, el('code', {}, d.path || '(body)'), ` ${d.message}`)),
  );
}
