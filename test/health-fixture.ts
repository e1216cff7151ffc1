import type { Timer } from '@azure/functions';
import { forgetHealthChecks } from '../src/health/last-check.js';
import { sandboxScenarios } from '../local/sandbox/index.js';
import type { Harness } from './harness.js';

/** A timer invocation on schedule, as the host passes one to the health check. */
export const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: true },
  scheduleStatus: {
    last: new Date(0).toISOString(),
    next: new Date().toISOString(),
    lastUpdated: new Date(0).toISOString(),
  },
};

/**
 * Between health-check tests: a healthy sandbox (Graph's stand-in reset with it) with zeroed counters,
 * no message at Exchange, no telemetry, no log line, and no check remembered. The app is not
 * restarted: each test starts it with the settings it checks.
 */
export function resetForHealthCheck(h: Harness): void {
  sandboxScenarios.healthy(h.sandbox);
  forgetHealthChecks();
  h.sandbox.appInsights.clear();
  h.sandbox.exchange.resetCounters();
  h.sandbox.exchange.messages.length = 0;
  h.sandbox.identity.resetCounters();
  h.logs.length = 0;
}
