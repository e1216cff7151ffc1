import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import type { Caller } from '../auth/resolve-caller.js';
import { readHealthStatus } from '../health/health-status.js';
import { defaultRetryAfterSeconds } from '../http/error-response.js';
import type { healthStatusSchema } from '../http/response-schemas.js';
import { logEvent } from '../telemetry/log-event.js';
import { getRuntime } from '../runtime/runtime.js';
import { callerRoute } from './caller-route.js';

/** GET /api/health: this worker's last check and a live preflight; 200 healthy, 503 with the diagnosis. */
async function getHealthFor(
  _request: HttpRequest,
  context: InvocationContext,
  caller: Caller,
): Promise<HttpResponseInit> {
  void caller;
  const { healthy, lastCheck, preflight, budgets, budgetsByTransport, budgetSpent, failure } =
    await readHealthStatus(getRuntime);
  const spent = budgetSpent[0];
  // typed by the schema the OpenAPI document shows: a field it lacks does not compile
  const body: z.input<typeof healthStatusSchema> = {
    status: !healthy ? 'unhealthy' : spent ? 'degraded' : 'healthy',
    lastCheck,
    preflight,
    budgets,
    budgetsByTransport,
    ...(spent && { budgetSpent }),
  };
  const headers = { 'Cache-Control': 'no-store' };
  if ((healthy || !failure) && spent) {
    // a spent day, or a minute that stays spent, is not a failure, but a probe that reads 200 would hide that mail waits (issue 22)
    logEvent(context, 'degraded', {
      code: spent.code,
      mailbox: spent.mailbox,
      retryAfterSeconds: spent.retryAfterSeconds,
    });
    const error = {
      code: spent.code,
      message: spent.cause,
      retryable: true,
      retryAfterSeconds: spent.retryAfterSeconds,
    };
    return {
      status: 503,
      headers: { ...headers, 'Retry-After': String(spent.retryAfterSeconds) },
      jsonBody: { ...body, error },
    };
  }
  if (healthy || !failure) return { status: 200, headers, jsonBody: body };
  logEvent(context, 'unhealthy', { code: failure.code, stage: failure.diagnosis?.stage, lastRunId: lastCheck?.runId });
  const retryAfter = String(failure.diagnosis?.retryAfterSeconds ?? defaultRetryAfterSeconds);
  return { status: 503, headers: { ...headers, 'Retry-After': retryAfter }, jsonBody: { ...body, error: failure } };
}

export const getHealth = callerRoute('healthStatus', { methods: ['GET'], route: 'health' }, getHealthFor);
