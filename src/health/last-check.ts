import type { HealthCheckResult } from './health-result.js';

/**
 * The last health check this worker ran. Process-wide like the token cache: on a scaled-out app
 * each instance keeps its own, so GET /api/health answers for the instance that serves it.
 */
let last: HealthCheckResult | undefined;

export function recordHealthCheck(result: HealthCheckResult): void {
  last = result;
}

export function lastHealthCheck(): HealthCheckResult | undefined {
  return last;
}

/** A new worker has run no check yet (tests). */
export function forgetHealthChecks(): void {
  last = undefined;
}
