import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Caller } from '../auth/resolve-caller.js';
import { checkHealth } from '../health/health-status.js';
import { defaultRetryAfterSeconds } from '../http/error-response.js';
import { logEvent } from '../http/log.js';
import { callerRoute } from './caller-route.js';

/** GET /api/health: this worker's last check and a live preflight; 200 healthy, 503 with the diagnosis. */
async function getHealthFor(_request: HttpRequest, context: InvocationContext, caller: Caller): Promise<HttpResponseInit> {
  void caller;
  const { healthy, lastCheck, preflight, budgets, failure } = await checkHealth();
  const body = { status: healthy ? 'healthy' : 'unhealthy', lastCheck, preflight, budgets };
  const headers = { 'Cache-Control': 'no-store' };
  if (healthy || !failure) return { status: 200, headers, jsonBody: body };
  logEvent(context, 'unhealthy', { code: failure.code, stage: failure.diagnosis?.stage, lastRunId: lastCheck?.runId });
  const retryAfter = String(failure.diagnosis?.retryAfterSeconds ?? defaultRetryAfterSeconds);
  return { status: 503, headers: { ...headers, 'Retry-After': retryAfter }, jsonBody: { ...body, error: failure } };
}

export const getHealth = callerRoute('healthStatus', { methods: ['GET'], route: 'health' }, getHealthFor);
