import { credentialDaysLeft } from '../auth/credential-expiry.js';
import type { BudgetUsage } from '../budget/budget.js';
import { ConfigError } from '../config/config-error.js';
import type { Diagnosis } from '../diagnosis/diagnosis.js';
import type { StageResult } from '../probe/probe.js';
import { probeByWay, wayOf, type Way } from './active-probe.js';
import type { HealthCheckResult } from './health-result.js';
import { budgetsOf } from './budgets.js';
import { spentBudgets } from './budget-spent.js';
import { saturatedMinutes } from './minute-saturated.js';
import type { BudgetDiagnosis } from '../budget/budget-diagnosis.js';
import { transportBudgetsOf, type TransportBudgetUsage } from './transport-budgets.js';
import type { HealthRuntime } from './health-runtime.js';
import { lastHealthCheck } from './last-check.js';

/** The live part of GET /api/health: secret, token and claims, from the caches when warm; no SMTP. */
export interface Preflight {
  ok: boolean;
  stages: StageResult[];
  diagnosis?: Diagnosis;
  /** CONFIGURATION_INVALID when no runtime could be built; the diagnosis code otherwise. */
  code?: string;
  /** The ways mail goes now, whose tokens were checked: `smtp` (Exchange's token), `graph` (Graph's, with Mail.Send unless rbac). */
  transports?: Way[];
  /** EXOSEND_CREDENTIAL, and its days left (a certificate's notAfter, a secret's vault expiry; never for federated). */
  credential?: string;
  credentialDaysLeft?: number;
  problem?: string;
}

export interface HealthStatus {
  healthy: boolean;
  lastCheck: HealthCheckResult | null;
  preflight: Preflight;
  /** Each mailbox's use of its minute, its sessions and its day, as every instance counted it. */
  budgets: BudgetUsage[];
  /** The same per transport: SMTP's minute, sessions and day; Graph's requests in flight, requests in 10 minutes and day. */
  budgetsByTransport: TransportBudgetUsage[];
  /** The mailboxes whose rolling day is spent (when each frees), then those whose minute stays spent: mail waits, so health is `degraded`. */
  budgetSpent: BudgetDiagnosis[];
  /** Why it is unhealthy: the preflight's failure first (it is live), else the last check's. */
  failure?: { code: string; message: string; diagnosis?: Diagnosis };
}

/**
 * What GET /api/health answers (the timer's synthetic send is runHealthCheck, in health-check.ts).
 * Healthy when the preflight passes and this worker's last check (if it ran one) passed too.
 */
export async function readHealthStatus(loadRuntime: () => HealthRuntime): Promise<HealthStatus> {
  const preflight = await runPreflight(loadRuntime);
  const lastCheck = lastHealthCheck() ?? null;
  const failure = failureOf(preflight) ?? (lastCheck && !lastCheck.ok ? failureOf(lastCheck) : undefined);
  const configured = preflight.code !== 'CONFIGURATION_INVALID';
  const budgets = configured ? await budgetsOf(loadRuntime()) : [];
  const budgetsByTransport = configured ? await transportBudgetsOf(loadRuntime()) : [];
  return {
    healthy: !failure,
    lastCheck,
    preflight,
    budgets,
    budgetsByTransport,
    budgetSpent: [...spentBudgets(budgets), ...saturatedMinutes(budgets)],
    ...(failure && { failure }),
  };
}

async function runPreflight(loadRuntime: () => HealthRuntime): Promise<Preflight> {
  try {
    const runtime = loadRuntime();
    // the token of each way mail goes now (SMTP's for Exchange, Graph's with Mail.Send), the first that fails shown
    const ways = [...new Set([...runtime.transports.values()].map(wayOf))].sort();
    let report = await probeByWay(runtime, runtime.config.mailbox, ways[0] ?? 'smtp', { stopAfter: 'claims' });
    for (const way of ways.slice(1))
      if (report.ok) report = await probeByWay(runtime, runtime.config.mailbox, way, { stopAfter: 'claims' });
    const expiresOn = report.credential?.expiresOn;
    return {
      ok: report.ok,
      transports: ways,
      stages: report.stages,
      ...(report.diagnosis && { diagnosis: report.diagnosis, code: report.diagnosis.code }),
      ...(report.credential && { credential: report.credential.kind }),
      ...(expiresOn && { credentialDaysLeft: credentialDaysLeft(expiresOn) }),
    };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { ok: false, stages: [], code: 'CONFIGURATION_INVALID', problem: error.message };
  }
}

function failureOf(outcome: Preflight | HealthCheckResult): HealthStatus['failure'] {
  if (outcome.ok) return undefined;
  if (outcome.diagnosis)
    return { code: outcome.diagnosis.code, message: outcome.diagnosis.cause, diagnosis: outcome.diagnosis };
  return { code: outcome.code ?? 'UNHEALTHY', message: outcome.problem ?? 'The health check failed.' };
}
