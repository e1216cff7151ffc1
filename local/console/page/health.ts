// The Health view: GET /api/health's answer (the last check and the live preflight), a check run on
// demand, and in sandbox mode the scenario switch, which starts the app cold and runs a check.
import type { Health, Session, StageResult } from './api-types.js';
import { diagnosisBox } from './diagnosis-box.js';
import { $, all, api, el, messageOf, showError } from './shared.js';

function stagesTable(stages: StageResult[] | undefined): HTMLElement {
  if (!stages?.length) return el('p', { class: 'muted' }, 'No stage ran.');
  return el(
    'table',
    {},
    el('thead', {}, el('tr', {}, el('th', {}, 'Stage'), el('th', {}, 'Result'), el('th', { class: 'num' }, 'Time'))),
    el(
      'tbody',
      {},
      stages.map((s) =>
        el(
          'tr',
          {},
          el('td', {}, s.stage),
          el('td', { class: s.ok ? 'stage-ok' : 'stage-bad' }, s.ok ? 'passed' : 'FAILED'),
          el('td', { class: 'num' }, `${s.durationMs} ms`),
        ),
      ),
    ),
  );
}

function renderHealth(session: Session, health: Health): void {
  const healthy = health.status === 'healthy';
  $('health-summary').replaceChildren(
    el(
      'p',
      {},
      el('span', { class: `badge ${healthy ? 'ok' : 'bad'}` }, healthy ? 'healthy' : 'unhealthy'),
      ` GET /api/health answered ${health.httpStatus}`,
      session.sandbox ? ` (scenario: ${session.scenario})` : '',
    ),
  );
  const last = health.lastCheck;
  $('last-check').replaceChildren(
    ...(last
      ? [
          el(
            'p',
            {},
            `${new Date(last.startedAt).toLocaleString()}, ${last.durationMs} ms, ${last.mode === 'send' ? 'with a test message' : 'up to AUTH'}: `,
            el(
              'span',
              { class: `badge ${last.ok ? 'ok' : 'bad'}` },
              last.ok ? 'passed' : `failed at ${last.failedStage}`,
            ),
          ),
          stagesTable(last.stages),
          diagnosisBox(last.diagnosis, last.problem ? el('p', {}, last.problem) : undefined),
          last.secretDaysLeft !== undefined
            ? el('p', { class: 'muted' }, `The client secret expires in ${last.secretDaysLeft} days.`)
            : '',
        ]
      : [el('p', { class: 'muted' }, 'No check has run yet (the timer runs it every few minutes): run one now.')]),
  );
  const pre = health.preflight;
  $('preflight').replaceChildren(
    stagesTable(pre.stages),
    diagnosisBox(pre.diagnosis, pre.problem ? el('p', {}, pre.problem) : undefined),
  );
}

export async function loadHealth(session: Session): Promise<void> {
  try {
    renderHealth(session, await api<Health>('health'));
    showError($('health-error'), '');
  } catch (error) {
    showError($('health-error'), messageOf(error));
  }
}

/** The view's buttons are off while `work` runs; its failure is shown in the view. */
async function busy(work: () => Promise<void>): Promise<void> {
  const buttons = () => all<HTMLButtonElement>('#view-health button');
  $('health-busy').hidden = false;
  for (const b of buttons()) b.disabled = true;
  try {
    await work();
    showError($('health-error'), '');
  } catch (error) {
    showError($('health-error'), messageOf(error));
  } finally {
    $('health-busy').hidden = true;
    for (const b of buttons()) b.disabled = false;
  }
}

function describeScenario(session: Session): void {
  const chosen = session.scenarios.find((s) => s.name === $('scenario', HTMLSelectElement).value);
  $('scenario-description').textContent = chosen?.description ?? '';
}

/** The scenario list (sandbox mode only), the switch and the check button. */
export function wireHealth(session: Session): void {
  const select = $('scenario', HTMLSelectElement);
  $('scenario-box').hidden = !session.sandbox;
  select.replaceChildren(
    ...session.scenarios.map((s) => el('option', { value: s.name, selected: s.name === session.scenario }, s.name)),
  );
  describeScenario(session);
  select.addEventListener('change', () => describeScenario(session));
  $('scenario-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(async () => {
      const { scenario, health } = await api<{ scenario: string; health: Health }>('scenario', {
        method: 'POST',
        body: JSON.stringify({ name: select.value }),
      });
      session.scenario = scenario;
      renderHealth(session, health);
    });
  });
  $('run-check').addEventListener(
    'click',
    () =>
      void busy(async () => renderHealth(session, await api<Health>('health/check', { method: 'POST', body: '{}' }))),
  );
}
