import { app, type InvocationContext, type Timer } from '@azure/functions';
import { bindingSetting } from '../config/load-config.js';
import { runHealthCheck } from '../health/health-check.js';
import { credentialExpiresSoon } from '../auth/credential-expiry.js';
import { summarize } from '../health/health-result.js';
import { logEvent } from '../telemetry/log-event.js';
import { flush } from '../telemetry/telemetry.js';
import { getRuntime } from '../runtime/runtime.js';

/** Timer: the synthetic send every few minutes; its result goes to Application Insights as `exosend-smtp`. */
export async function scheduledHealthCheck(timer: Timer, context: InvocationContext): Promise<void> {
  try {
    const result = await runHealthCheck(getRuntime);
    logEvent(context, 'check', { ...summarize(result), pastDue: timer.isPastDue || undefined });
    // one rule for a secret and a certificate alike; a federated credential does not expire
    if (credentialExpiresSoon(result.credentialDaysLeft)) {
      const { runId, credential, credentialDaysLeft } = result;
      context.warn(JSON.stringify({ event: 'exosend.credentialExpiring', runId, credential, credentialDaysLeft }));
    }
  } finally {
    // a consumption-plan instance may be frozen once the invocation ends: the result (red too, when
    // the check itself crashed) must leave now
    await flush();
  }
}

app.timer('health', {
  // the value (or its documented default) rather than %EXOSEND_HEALTH_SCHEDULE%, which fails to index when unset
  schedule: bindingSetting('EXOSEND_HEALTH_SCHEDULE'),
  runOnStartup: false,
  handler: scheduledHealthCheck,
});
