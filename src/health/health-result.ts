import { credentialDaysLeft } from '../auth/credential-expiry.js';
import type { CredentialKind } from '../config/load-config.js';
import type { ConfigError } from '../config/config-error.js';
import type { Diagnosis, DiagnosisCode, Stage } from '../diagnosis/diagnosis.js';
import type { BudgetUsage } from '../budget/budget.js';
import type { ProbeReport, StageResult } from '../probe/probe.js';
import { budgetSummary } from './budgets.js';
import { spentSummary } from './budget-spent.js';
import { saturatedSummary } from './minute-saturated.js';

/** A check that failed before the chain: the settings (no runtime could be built) or a defect. */
export type CheckFailureCode = DiagnosisCode | 'CONFIGURATION_INVALID' | 'UNEXPECTED_ERROR';

/** One health check, as GET /api/health, the availability result and the log line show it. */
export interface HealthCheckResult {
  runId: string;
  ok: boolean;
  /** When the check started, ISO 8601. */
  startedAt: string;
  durationMs: number;
  /** 'send': a test message to EXOSEND_HEALTH_TO; 'auth': no recipient set, the check stops after AUTH. Absent when the chain never started. */
  mode?: 'send' | 'auth';
  stages: StageResult[];
  failedStage?: Stage | 'settings';
  code?: CheckFailureCode;
  diagnosis?: Diagnosis;
  /** For failures outside the catalogue: what is wrong, naming variables, never values. */
  problem?: string;
  /** EXOSEND_CREDENTIAL of the app that ran the check. */
  credential?: CredentialKind;
  /** Whole days until the credential expires (a certificate's notAfter, a secret's vault expiry); absent when none is known (federated: never). */
  credentialDaysLeft?: number;
  /** The same, for a client secret: the name this property had before certificates (kept for existing queries). */
  secretDaysLeft?: number;
  messageId?: string;
  /** The way the stages shown went: SMTP, or Microsoft Graph (EXOSEND_TRANSPORT=graph, or `auto` on Graph for this mailbox). */
  transport?: 'smtp' | 'graph';
  /** `auto` only: Exchange closed SMTP to the mailbox (this code), so the check went on through Graph, as a send does. */
  smtpClosed?: DiagnosisCode;
  /** Every mailbox exosend authenticates as, whether its check passed in this run, and the way it was checked. */
  mailboxes?: { mailbox: string; ok: boolean; code?: string | undefined; transport?: 'smtp' | 'graph' }[];
  /** The mailbox whose check failed, when it is not the first one. */
  failedMailbox?: string;
  /** Each mailbox's use of its limits when the check ran. */
  budgets?: BudgetUsage[];
  /** The delivery reports reader's last state in this process (src/health/reader-health.ts). */
  reader?: string;
}

export function resultOfProbe(
  report: ProbeReport,
  mode: 'send' | 'auth',
  startedAt: Date,
  durationMs: number,
): HealthCheckResult {
  const failed = report.stages.find((s) => !s.ok);
  return {
    runId: report.runId,
    ok: report.ok,
    startedAt: startedAt.toISOString(),
    durationMs,
    mode,
    stages: report.stages,
    ...(failed && { failedStage: failed.stage }),
    ...(report.diagnosis && { code: report.diagnosis.code, diagnosis: report.diagnosis }),
    ...daysLeftOf(report),
    ...(report.messageId && { messageId: report.messageId }),
  };
}

function daysLeftOf(
  report: ProbeReport,
): Pick<HealthCheckResult, 'credential' | 'credentialDaysLeft' | 'secretDaysLeft'> {
  const state = report.credential;
  if (!state) return {};
  const days = state.expiresOn && credentialDaysLeft(state.expiresOn);
  if (days === undefined) return { credential: state.kind };
  return { credential: state.kind, credentialDaysLeft: days, ...(state.kind === 'secret' && { secretDaysLeft: days }) };
}

export function resultOfMisconfiguration(
  runId: string,
  error: ConfigError,
  startedAt: Date,
  durationMs: number,
): HealthCheckResult {
  // ConfigError's message names each bad variable and what is wrong with it, never a value
  return {
    runId,
    ok: false,
    startedAt: startedAt.toISOString(),
    durationMs,
    stages: [],
    failedStage: 'settings',
    code: 'CONFIGURATION_INVALID',
    problem: error.message,
  };
}

export function resultOfDefect(runId: string, error: unknown, startedAt: Date, durationMs: number): HealthCheckResult {
  const name = error instanceof Error ? error.name : typeof error;
  return {
    runId,
    ok: false,
    startedAt: startedAt.toISOString(),
    durationMs,
    stages: [],
    code: 'UNEXPECTED_ERROR',
    problem: `The check itself failed (${name}); the host log has the stack.`,
  };
}

/**
 * The flat fields of a check, shared by its log line and its availability properties, so that a
 * query can join them on runId: ids, codes, the server's reply and timings; never a credential,
 * an address list or a body.
 */
export function summarize(result: HealthCheckResult): Record<string, string | number | boolean | undefined> {
  const stageTimings = Object.fromEntries(result.stages.map((s) => [`${s.stage}Ms`, s.durationMs]));
  return {
    runId: result.runId,
    ok: result.ok,
    mode: result.mode,
    transport: result.transport,
    smtpClosed: result.smtpClosed,
    failedStage: result.failedStage,
    code: result.code,
    retryable: result.diagnosis?.retryable,
    // what Exchange, Entra or the vault answered (a reply line, an AADSTS description)
    reply: result.diagnosis?.smtp,
    durationMs: result.durationMs,
    ...stageTimings,
    credential: result.credential,
    credentialDaysLeft: result.credentialDaysLeft,
    secretDaysLeft: result.secretDaysLeft,
    failedMailbox: result.failedMailbox,
    mailboxesChecked: result.mailboxes?.length,
    budgets: budgetSummary(result.budgets),
    // the alert rule budget-spent selects on it: a spent day is not a failed check, mail waits
    budgetSpent: spentSummary(result.budgets),
    // a new name, so that mailbox-day-spent keeps meaning the day: mailbox-minute-saturated selects on this one
    minuteSaturated: saturatedSummary(result.budgets),
    reader: result.reader,
  };
}
