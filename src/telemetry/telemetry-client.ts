import { hostname } from 'node:os';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
} from '@azure/core-rest-pipeline';
import { ManagedIdentityCredential } from '@azure/identity';
import type { TelemetryAuthentication } from '../config/load-config.js';

/**
 * The few envelopes exosend sends (availability results and custom events), posted to Application
 * Insights' ingestion endpoint (`POST {IngestionEndpoint}/v2.1/track`) as the Azure Monitor exporters
 * post them, through the Azure SDK's HTTP pipeline. With APPLICATIONINSIGHTS_AUTHENTICATION_STRING
 * each request carries the managed identity's Entra token for https://monitor.azure.com, which
 * ingestion requires once local authentication is off. Why not the applicationinsights package:
 * docs/operations.md, "Telemetry package".
 */
export interface TelemetryClient {
  trackAvailability(availability: AvailabilityTelemetry): void;
  trackEvent(event: EventTelemetry): void;
  /** Sends what is queued now; never throws. */
  flush(): Promise<void>;
  /** Flushes and stops the batch timer. */
  shutdown(): Promise<void>;
}

export interface AvailabilityTelemetry {
  id: string;
  name: string;
  duration: number;
  success: boolean;
  runLocation: string;
  message: string;
  properties: Record<string, string>;
}

export interface EventTelemetry {
  name: string;
  properties: Record<string, string>;
  measurements: Record<string, number>;
}

interface Envelope {
  name: string;
  iKey: string;
  time: string;
  sampleRate: number;
  tags: Record<string, string>;
  data: { baseType: string; baseData: Record<string, unknown> };
}

/** Envelopes wait at most this long for company before they are posted. */
const batchDelayInMs = 2_000;
const maxBatch = 100;
const monitorScope = 'https://monitor.azure.com/.default';
const defaultIngestionEndpoint = 'https://dc.services.visualstudio.com';

export class TelemetryConfigurationError extends Error {
  override readonly name = 'TelemetryConfigurationError';
}

/** Builds a client for one connection string, with an Entra token when `authentication` is given. */
export function createTelemetryClient(
  connectionString: string,
  authentication?: TelemetryAuthentication,
): TelemetryClient {
  const fields = new Map(
    connectionString.split(';').flatMap((pair) => {
      const at = pair.indexOf('=');
      return at < 0 ? [] : [[pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim()] as const];
    }),
  );
  const iKey = fields.get('instrumentationkey');
  if (!iKey) throw new TelemetryConfigurationError('APPLICATIONINSIGHTS_CONNECTION_STRING has no InstrumentationKey');
  // ingestion is HTTPS only, and a bearer token is never sent in the clear: http:// becomes https://, as in the SDKs
  const endpoint = (fields.get('ingestionendpoint') ?? defaultIngestionEndpoint)
    .replace(/^http:\/\//i, 'https://')
    .replace(/\/+$/, '');
  const url = `${endpoint}/v2.1/track`;

  const pipeline = createPipelineFromOptions({ retryOptions: { maxRetries: 2 } });
  if (authentication) {
    const credential = new ManagedIdentityCredential(
      authentication.clientId ? { clientId: authentication.clientId } : {},
    );
    pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: monitorScope }));
  }
  const httpClient = createDefaultHttpClient();
  const tags = {
    'ai.cloud.role': process.env['WEBSITE_SITE_NAME'] ?? 'exosend',
    'ai.cloud.roleInstance': process.env['WEBSITE_INSTANCE_ID'] ?? hostname(),
    'ai.internal.sdkVersion': 'exosend-node:1',
  };
  const prefix = `Microsoft.ApplicationInsights.${iKey.replace(/-/g, '')}`;

  let queued: Envelope[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inFlight = Promise.resolve();
  let refusalReported = false;

  const envelope = (kind: 'Availability' | 'Event', baseType: string, baseData: Record<string, unknown>): Envelope => ({
    name: `${prefix}.${kind}`,
    iKey,
    time: new Date().toISOString(),
    sampleRate: 100,
    tags,
    data: { baseType, baseData: { ver: 2, ...baseData } },
  });

  async function post(batch: Envelope[]): Promise<void> {
    try {
      const request = createPipelineRequest({
        url,
        method: 'POST',
        body: JSON.stringify(batch),
        headers: createHttpHeaders({ 'content-type': 'application/json' }),
        timeout: 30_000,
      });
      const response = await pipeline.sendRequest(httpClient, request);
      if (response.status >= 400 && !refusalReported) {
        refusalReported = true;
        const hint =
          response.status === 401 || response.status === 403
            ? ' (local authentication is off? set APPLICATIONINSIGHTS_AUTHENTICATION_STRING and give the identity Monitoring Metrics Publisher)'
            : '';
        console.warn(
          `exosend telemetry: Application Insights refused ${batch.length} item(s) with ${response.status}${hint}`,
        );
      }
    } catch (error) {
      if (!refusalReported)
        console.warn(`exosend telemetry: could not post to Application Insights (${(error as Error).name})`);
      refusalReported = true;
    }
  }

  function send(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = queued;
    queued = [];
    if (batch.length > 0) inFlight = inFlight.then(() => post(batch));
    return inFlight;
  }

  function enqueue(item: Envelope): void {
    queued.push(item);
    if (queued.length >= maxBatch) void send();
    // unref: a pending batch never keeps a process (the CLI, a test) alive; shutdown() sends it
    else timer ??= setTimeout(() => void send(), batchDelayInMs).unref();
  }

  return {
    trackAvailability: ({ duration, ...rest }) =>
      enqueue(envelope('Availability', 'AvailabilityData', { ...rest, duration: timeSpan(duration) })),
    trackEvent: ({ name, properties, measurements }) =>
      enqueue(envelope('Event', 'EventData', { name, properties, measurements })),
    flush: send,
    shutdown: send,
  };
}

/** Milliseconds as the .NET TimeSpan Breeze expects: `[d.]hh:mm:ss.fffffff`. */
export function timeSpan(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? ms : 0;
  const days = Math.floor(total / 86_400_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const hours = pad(Math.floor(total / 3_600_000) % 24);
  const minutes = pad(Math.floor(total / 60_000) % 60);
  const seconds = ((total / 1000) % 60).toFixed(3).padStart(6, '0');
  return `${days > 0 ? `${days}.` : ''}${hours}:${minutes}:${seconds}`;
}
