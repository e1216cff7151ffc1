import { parseTelemetryAuthentication } from '../config/load-config.js';
import type { TelemetryClient } from './telemetry-client.js';

/** One availability result, as the Application Insights availability blade and alert rules read it. */
export interface AvailabilityResult {
  /** The test's name: results of the same name form one availability series. */
  name: string;
  /** Ties the result to the log line of the same run. */
  id: string;
  success: boolean;
  durationMs: number;
  runLocation: string;
  message: string;
  properties: Record<string, string>;
}

export type EventProperties = Record<string, string | number | boolean | undefined>;

/**
 * The facade every module uses for Application Insights. It does nothing without
 * APPLICATIONINSIGHTS_CONNECTION_STRING; with one, the client module is loaded on first use, after
 * the caller has moved on: tracking never throws, never waits for the load and never blocks a send.
 * The variables are read on each call rather than from the typed settings, so telemetry still works
 * (and reports the failure) when the other settings are invalid. With
 * APPLICATIONINSIGHTS_AUTHENTICATION_STRING (`Authorization=AAD;ClientId=<id>`) it sends with that
 * managed identity's Entra token, as ingestion requires when local authentication is off.
 */
let current: { key: string; client: Promise<TelemetryClient | undefined> } | undefined;
let loadFailureReported = false;

const connectionStringNow = () => process.env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
const authenticationNow = () => process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING?.trim() || undefined;

/** Whether telemetry is on: callers on a hot path skip building what would be thrown away. */
export const telemetryIsOn = (): boolean => Boolean(connectionStringNow());

function client(): Promise<TelemetryClient | undefined> | undefined {
  const connectionString = connectionStringNow();
  if (!connectionString) return undefined;
  const authentication = authenticationNow();
  const key = `${connectionString}\n${authentication ?? ''}`;
  if (current?.key !== key) {
    void retire(current?.client);
    current = { key, client: load(connectionString, authentication) };
  }
  return current.client;
}

function reportOnce(message: string): undefined {
  if (!loadFailureReported) console.warn(`exosend telemetry is off: ${message}`);
  loadFailureReported = true;
  return undefined;
}

async function load(
  connectionString: string,
  authenticationString: string | undefined,
): Promise<TelemetryClient | undefined> {
  // let the caller's invocation finish its synchronous work first
  await new Promise((resolve) => setImmediate(resolve));
  const authentication =
    authenticationString === undefined ? undefined : parseTelemetryAuthentication(authenticationString);
  // never fall back to sending without a token: ingestion with local auth off would refuse it anyway
  if (authenticationString !== undefined && !authentication) {
    return reportOnce('APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be "Authorization=AAD;ClientId=<GUID>"');
  }
  try {
    const { createTelemetryClient } = await import('./telemetry-client.js');
    return createTelemetryClient(connectionString, authentication);
  } catch (error) {
    return reportOnce(
      `${(error as Error).message.startsWith('APPLICATIONINSIGHTS') ? (error as Error).message : `the client failed to load (${(error as Error).name})`}`,
    );
  }
}

async function retire(previous: Promise<TelemetryClient | undefined> | undefined): Promise<void> {
  await (await previous)?.shutdown().catch(() => undefined);
}

/** Runs `use` once the package is loaded; with telemetry off it costs one look at the environment. */
function whenLoaded(use: (client: TelemetryClient) => void): void {
  client()
    ?.then((loaded) => loaded && use(loaded))
    .catch(() => undefined);
}

export function trackAvailability(result: AvailabilityResult): void {
  const { durationMs, ...rest } = result;
  whenLoaded((c) => c.trackAvailability({ ...rest, duration: durationMs }));
}

/** A custom event; properties become customDimensions (strings), measurements customMeasurements. */
export function trackEvent(
  name: string,
  properties: EventProperties = {},
  measurements: Record<string, number> = {},
): void {
  whenLoaded((c) => {
    const dimensions = Object.fromEntries(
      Object.entries(properties).flatMap(([key, value]) => (value === undefined ? [] : [[key, String(value)]])),
    );
    c.trackEvent({ name, properties: dimensions, measurements });
  });
}

/** Sends what is queued now (waiting for the package to load if it is loading); never throws. */
export async function flush(): Promise<void> {
  const loaded = await current?.client;
  await loaded?.flush().catch(() => undefined);
}

/** Flushes and stops the exporters' timers: the end of a process (a test, the CLI). */
export async function shutdownTelemetry(): Promise<void> {
  const previous = current?.client;
  current = undefined;
  await retire(previous);
}
