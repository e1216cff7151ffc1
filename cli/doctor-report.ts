import type { Diagnosis, Stage } from '../src/diagnosis/diagnosis.js';
import type { SettingProblem } from './doctor-checks.js';

export type DoctorStage = 'settings' | Stage | 'from' | 'graph';

export interface DoctorStageResult {
  stage: DoctorStage;
  /** False only for the stage that failed; a skipped stage is not a failure. */
  ok: boolean;
  durationMs: number;
  /** Why the stage did not run. */
  skipped?: string;
  /** What the stage found, for the admin: the secret's expiry, the token's claims, the From verdict. */
  note?: string;
  /** Not a verdict but the way forward (SMTP AUTH off: Microsoft Graph, with the permission to grant). */
  advice?: string;
}

export interface DoctorClaims {
  aud: string;
  roles: readonly string[];
  appId: string | undefined;
  tid: string | undefined;
  expiresOn: string;
}

/** What `exosend doctor --json` prints: the same verdicts as the stage lines. */
export interface DoctorReport {
  ok: boolean;
  stages: DoctorStageResult[];
  /** The settings that failed the settings stage, each named with what it must be. */
  problems?: SettingProblem[];
  diagnosis?: Diagnosis;
  claims?: DoctorClaims;
  warnings: string[];
  /** EXOSEND_CREDENTIAL, and when that credential expires (a secret's vault expiry, a certificate's notAfter). */
  credential?: 'secret' | 'certificate' | 'federated';
  credentialExpiresOn?: string;
  secretExpiresOn?: string;
  messageId?: string;
  /** SMTP AUTH is off: the way forward through Microsoft Graph, with what the app holds or must be granted (after the failed stage). */
  wayOut?: DoctorStageResult;
  /** Names of the settings that came from --settings FILE (the environment set none of them). */
  settingsFromFile?: string[];
  /** The delivery reports reader's permission (cli/doctor-reader.ts): a refusal is a warning, not a failed stage. */
  reader?: { ok: boolean; note: string };
}

const labels: Record<DoctorStage, string> = {
  settings: 'settings',
  vault: 'vault secret',
  certificate: 'certificate dates',
  token: 'token',
  claims: 'claims',
  connect: 'SMTP connect + STARTTLS',
  tls: 'STARTTLS',
  auth: 'AUTH XOAUTH2',
  send: 'test send',
  from: 'From check',
  graph: 'Microsoft Graph',
};

export function stageLines(
  r: DoctorStageResult,
  problems: readonly SettingProblem[] = [],
  credential?: DoctorReport['credential'],
): string[] {
  const label = r.stage === 'vault' && credential === 'certificate' ? 'vault certificate' : labels[r.stage];
  const line = r.advice
    ? `→ ${label}  ${r.advice}`
    : r.skipped
      ? `- ${label}  skipped: ${r.skipped}`
      : `${r.ok ? '✔' : '✘'} ${label}  (${duration(r.durationMs)})${r.note ? `  ${r.note}` : ''}`;
  return [line, ...problems.map((p) => `    ${p.variable} ${p.message}`)];
}

/** The code, its cause, the fix one step a line, and the raw reply of whoever refused. */
export function failureLines(d: Diagnosis): string[] {
  const steps = d.fix.includes('\n') ? d.fix.split('\n') : sentences(d.fix).map((s) => `- ${s}`);
  return [
    '',
    `${d.code}  (stage ${d.stage}${d.retryable ? '; a retry may pass' : ''})`,
    `Cause: ${d.cause}`,
    'Fix:',
    ...steps.map((s) => `  ${s}`),
    ...(d.smtp
      ? [
          `${d.code.startsWith('GRAPH_') && d.stage !== 'claims' ? 'Microsoft Graph replied:' : replier[d.stage]} ${d.smtp}`,
        ]
      : []),
  ];
}

export function closingLines(report: DoctorReport): string[] {
  const triedNothing = report.stages.every((s) => s.stage === 'settings' || s.skipped);
  const verdict =
    report.ok && triedNothing
      ? 'Only the settings could be checked here: nothing past them was tried.'
      : report.ok
        ? `All stages passed${report.stages.some((s) => s.skipped) ? ' (skipped ones aside)' : ''}.`
        : report.problems
          ? 'Fix the settings above and run exosend doctor again; nothing was contacted.'
          : 'Stopped at the failed stage: the stages after it were not run.';
  const warnings = report.warnings.map((w) => `Warning: ${w}`);
  const reader = report.reader
    ? [`${report.reader.ok ? '✔' : '✘'} delivery reports reader  ${report.reader.note}`]
    : [];
  return [...reader, '', ...warnings, ...(warnings.length > 0 ? [''] : []), verdict];
}

const replier: Record<Stage, string> = {
  vault: 'Key Vault replied:',
  certificate: 'The certificate:',
  token: 'Entra replied:',
  claims: 'The token holds:',
  connect: 'Exchange replied:',
  tls: 'Exchange replied:',
  auth: 'Exchange replied:',
  send: 'Exchange replied:',
};

const duration = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

/** Splits at ". " before a capital, but never inside a `command`. */
function sentences(text: string): string[] {
  const found: string[] = [];
  let start = 0;
  let inCode = false;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '`') inCode = !inCode;
    else if (!inCode && text[i] === '.' && text[i + 1] === ' ' && /[A-Z]/.test(text[i + 2] ?? '')) {
      found.push(text.slice(start, i + 1));
      start = i + 2;
    }
  }
  return [...found, text.slice(start)].filter((s) => s.trim() !== '');
}
