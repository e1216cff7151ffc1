import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { closeServer, handleWith, listen, sendJson } from './http.js';
import type { TokenVerifier } from './identity.js';
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
  // what the SDK sent, which tests read field by field
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: { baseType: string; baseData: Record<string, any> };
  [field: string]: unknown;
}

export interface AppInsightsStandInOptions {
  tls: TlsMaterial;
  instrumentationKey?: string;
  /** Checks bearer tokens once `requireEntraToken(true)`: the identity platform stand-in. */
  verifier?: TokenVerifier;
}

/** The audience ingestion accepts when local authentication is off. */
export const monitorAudience = 'https://monitor.azure.com';

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
  /**
   * As ingestion with local authentication disabled: every batch without a valid bearer token for
   * https://monitor.azure.com (signed by the identity stand-in, unexpired) is refused with 401; with
   * `publishers`, a token of any other app (client ID) is refused with 403, as an identity without
   * Monitoring Metrics Publisher on the resource is.
   */
  requireEntraToken(required: boolean, publishers?: string[]): void;
  /** Batches refused for want of a valid token, and the reason of each. */
  refused: string[];
  close(): Promise<void>;
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function startAppInsightsStandIn(options: AppInsightsStandInOptions): Promise<AppInsightsStandIn> {
  const instrumentationKey = options.instrumentationKey ?? randomUUID();
  const envelopes: TelemetryEnvelope[] = [];
  const bodies: string[] = [];
  const events = new EventEmitter();
  const refused: string[] = [];
  let entraRequired = false;
  let publishers: string[] | undefined;

  /** The reason a request's token is not good enough, or undefined when it is. */
  async function tokenProblem(request: IncomingMessage): Promise<{ status: number; message: string } | undefined> {
    const message = await tokenMessage(request);
    if (message) return { status: 401, message };
    const { appid } = decodeClaims(request);
    const appId = (typeof appid === 'string' ? appid : '').toLowerCase();
    if (publishers && !publishers.some((p) => p.toLowerCase() === appId)) {
      return {
        status: 403,
        message: `The identity ${appId} does not hold Monitoring Metrics Publisher on this resource.`,
      };
    }
    return undefined;
  }

  async function tokenMessage(request: IncomingMessage): Promise<string | undefined> {
    const [scheme, token] = (request.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token)
      return 'Authorization header with a Bearer token is required: local authentication is disabled.';
    if (!options.verifier) return 'The stand-in has no identity platform to verify tokens with.';
    try {
      const claims = await options.verifier.verifyToken(token);
      const audience = String(claims.aud).replace(/\/+$/, '');
      return audience === monitorAudience ? undefined : `The token's audience ${audience} is not ${monitorAudience}.`;
    } catch (error) {
      return `The token is not valid: ${(error as Error).message}`;
    }
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'https://127.0.0.1').pathname;
    if (request.method !== 'POST' || (path !== '/v2.1/track' && path !== '/v2/track')) {
      return sendJson(response, 404, { error: `${request.method} ${path} is not served by the stand-in.` });
    }
    const text = await readRaw(request).catch(() => undefined);
    const problem = entraRequired ? await tokenProblem(request) : undefined;
    if (problem) {
      refused.push(problem.message);
      return sendJson(response, problem.status, {
        itemsReceived: 0,
        itemsAccepted: 0,
        errors: [{ index: 0, statusCode: problem.status, message: problem.message }],
      });
    }
    let items: unknown[];
    try {
      if (text === undefined) throw new Error('The body could not be read.');
      items = parseBatch(text);
    } catch (error) {
      return sendJson(response, 400, {
        itemsReceived: 0,
        itemsAccepted: 0,
        errors: [{ index: 0, statusCode: 400, message: String(error) }],
      });
    }
    const errors: { index: number; statusCode: number; message: string }[] = [];
    items.forEach((item, index) => {
      const problem = checkEnvelope(item, instrumentationKey);
      if (problem) return errors.push({ index, statusCode: 400, message: problem });
      envelopes.push(item as TelemetryEnvelope);
      events.emit('envelope', item);
    });
    // Breeze answers 206 when some items were refused, naming each by its index in the batch
    sendJson(response, errors.length > 0 ? 206 : 200, {
      itemsReceived: items.length,
      itemsAccepted: items.length - errors.length,
      errors,
    });
  }

  async function readRaw(request: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const text =
      (request.headers['content-encoding'] ?? '').toLowerCase() === 'gzip'
        ? gunzipSync(raw).toString('utf8')
        : raw.toString('utf8');
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
      refused.length = 0;
    },
    requireEntraToken: (required, allowed) => {
      entraRequired = required;
      publishers = allowed;
    },
    refused,
    close: () => closeServer(server),
  };
}

/** A JSON array, one envelope, or newline-delimited envelopes: Breeze takes all three. */
function parseBatch(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as unknown[];
  return trimmed
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as unknown);
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

/** The claims of the request's bearer token, unverified (tokenMessage verified it already). */
function decodeClaims(request: IncomingMessage): Record<string, unknown> {
  const token = (request.headers.authorization ?? '').split(' ')[1] ?? '';
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
