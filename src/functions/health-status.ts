import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { readHealthStatus } from '../health/health-status.js';
import { defaultRetryAfterSeconds } from '../http/error-response.js';
import type { healthStatusSchema } from '../http/response-schemas.js';
import { logEvent } from '../telemetry/log-event.js';
import { getRuntime } from '../runtime/runtime.js';

/** GET /api/health: this worker's last check and a live preflight; 200 healthy, 503 with the diagnosis. */
export async function getHealth(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const { healthy, lastCheck, preflight, budgets, failure } = await readHealthStatus(getRuntime);
  // typed by the schema the OpenAPI document shows: a field it lacks does not compile
  const body: z.input<typeof healthStatusSchema> = { status: healthy ? 'healthy' : 'unhealthy', lastCheck, preflight, budgets };
  const headers = { 'Cache-Control': 'no-store' };
  if (healthy || !failure) return { status: 200, headers, jsonBody: body };
  logEvent(context, 'unhealthy', { code: failure.code, stage: failure.diagnosis?.stage, lastRunId: lastCheck?.runId });
  const retryAfter = String(failure.diagnosis?.retryAfterSeconds ?? defaultRetryAfterSeconds);
  return { status: 503, headers: { ...headers, 'Retry-After': retryAfter }, jsonBody: { ...body, error: failure } };
}

app.http('healthStatus', { methods: ['GET'], authLevel: 'function', route: 'health', handler: getHealth });
