import type { AvailabilityResult } from '../telemetry/telemetry.js';
import { summarize, type HealthCheckResult } from './health-result.js';

/**
 * The availability test's name: the series operations watch and the alert rules select. It keeps
 * its name whichever way the mail goes; the `transport` property says which way was checked.
 */
export const availabilityTestName = 'exosend-smtp';

/**
 * A check as Application Insights shows it: green or red, and when red, `message` says which
 * stage failed, the diagnosis code and the fix; `properties` carry the stage timings.
 */
export function availabilityOf(
  result: HealthCheckResult,
  runLocation = process.env.REGION_NAME ?? 'local',
): AvailabilityResult {
  const properties = Object.fromEntries(
    Object.entries(summarize(result)).flatMap(([key, value]) =>
      value === undefined || key === 'ok' || key === 'durationMs' ? [] : [[key, String(value)]],
    ),
  );
  return {
    name: availabilityTestName,
    id: result.runId,
    success: result.ok,
    durationMs: result.durationMs,
    runLocation,
    message: messageOf(result),
    properties,
  };
}

function messageOf(result: HealthCheckResult): string {
  const stages = result.stages.map((s) => s.stage).join(', ');
  if (result.ok) {
    const way =
      result.transport === 'graph'
        ? ` through Microsoft Graph${result.smtpClosed ? ` (SMTP closed: ${result.smtpClosed})` : ''}`
        : '';
    return result.mode === 'send'
      ? `exosend can send${way}: ${stages} passed; the test message was accepted.`
      : result.transport === 'graph'
        ? `exosend has its Microsoft Graph token${way.replace(' through Microsoft Graph', '')}: ${stages} passed; no EXOSEND_HEALTH_TO, so nothing was sent.`
        : `exosend can authenticate: ${stages} passed; no EXOSEND_HEALTH_TO, so nothing was sent.`;
  }
  const where = result.failedStage ?? 'check';
  if (result.diagnosis)
    return `${where} failed: ${result.diagnosis.code}. ${result.diagnosis.cause} Fix: ${result.diagnosis.fix}`;
  return `${where} failed: ${result.code}. ${result.problem ?? ''}`.trim();
}
