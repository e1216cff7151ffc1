import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { closeServer, handleWith, listen, sendJson } from './http.js';
import type { TlsMaterial } from './pki.js';

/**
 * Application Insights' ingestion endpoint (Breeze) as applicationinsights 3.x and
 * @azure/monitor-opentelemetry-exporter call it: `POST /v2.1/track` with a JSON array of envelopes,
 * gzipped when the host is one of Azure's (plain on loopback). HTTPS only: the SDK turns an
 * http:// IngestionEndpoint into https://.
 */

export interface TelemetryEnvelope {
  name: string;
  iKey: string;
  time: string;
  tags?: Record<string, string>;
  data?: { baseType: string; baseData: Record<string, any> };
  [field: string]: unknown;
}

export interface AppInsightsStandInOptions {
  tls: TlsMaterial;
  instrumentationKey?: string;
}

export interface AppInsightsStandIn {
  url: string;
  instrumentationKey: string;
  /** `InstrumentationKey=...;IngestionEndpoint=https://127.0.0.1:PORT/`: give it to the app to turn telemetry on. */
  connectionString: string;
  /** Every envelope accepted, in order of arrival. */
  envelopes: TelemetryEnvelope[];
  /** Every request body received since the start (decompressed; `clear()` keeps them), for checks on what left the app. */
  bodies: string[];
  /** Emits 'envelope' (TelemetryEnvelope) for each one accepted. */
  events: EventEmitter;
  /** Envelopes of one `data.baseType`: 'AvailabilityData', 'EventData', 'MessageData', ... */
  ofType(baseType: string): TelemetryEnvelope[];
  /** Forgets the envelopes received so far (one test's from the next's). */
  clear(): void;
  close(): Promise<void>;
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function startAppInsightsStandIn(options: AppInsightsStandInOptions): Promise<AppInsightsStandIn> {
  const instrumentationKey = options.instrumentationKey ?? randomUUID();
  const envelopes: TelemetryEnvelope[] = [];
  const bodies: string[] = [];
  const events = new EventEmitter();

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'https://127.0.0.1').pathname;
    if (request.method !== 'POST' || (path !== '/v2.1/track' && path !== '/v2/track')) {
      return sendJson(response, 404, { error: `${request.method} ${path} is not served by the stand-in.` });
    }
    let items: unknown[];
    try {
      items = parseBatch(await readRaw(request));
    } catch (error) {
      return sendJson(response, 400, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 400, message: String(error) }] });
    }
    const errors: { index: number; statusCode: number; message: string }[] = [];
    items.forEach((item, index) => {
      const problem = checkEnvelope(item, instrumentationKey);
      if (problem) return errors.push({ index, statusCode: 400, message: problem });
      envelopes.push(item as TelemetryEnvelope);
      events.emit('envelope', item);
    });
    // Breeze answers 206 when some items were refused, naming each by its index in the batch
    sendJson(response, errors.length > 0 ? 206 : 200, { itemsReceived: items.length, itemsAccepted: items.length - errors.length, errors });
  }

  async function readRaw(request: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const text = (request.headers['content-encoding'] ?? '').toLowerCase() === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
    bodies.push(text);
    return text;
  }

  const server = createServer({ key: options.tls.keyPem, cert: options.tls.certPem }, handleWith(route));
  const port = await listen(server);
  const url = `https://127.0.0.1:${port}/`;
  return {
    url,
    instrumentationKey,
    connectionString: `InstrumentationKey=${instrumentationKey};IngestionEndpoint=${url}`,
    envelopes,
    bodies,
    events,
    ofType: (baseType) => envelopes.filter((e) => e.data?.baseType === baseType),
    clear: () => {
      envelopes.length = 0;
    },
    close: () => closeServer(server),
  };
}

/** A JSON array, one envelope, or newline-delimited envelopes: Breeze takes all three. */
function parseBatch(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as unknown[];
  return trimmed.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as unknown);
}

function checkEnvelope(item: unknown, instrumentationKey: string): string | undefined {
  if (typeof item !== 'object' || item === null) return 'Envelope is not an object.';
  const envelope = item as Partial<TelemetryEnvelope>;
  if (!envelope.name) return 'Field "name" on type Envelope is required.';
  if (!envelope.time) return 'Field "time" on type Envelope is required.';
  if (!envelope.iKey || !guid.test(envelope.iKey)) return 'Invalid instrumentation key';
  if (envelope.iKey.toLowerCase() !== instrumentationKey.toLowerCase()) return 'Invalid instrumentation key';
  return undefined;
}
