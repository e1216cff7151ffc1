import type { TelemetryClient } from 'applicationinsights';
import { createTelemetryClient } from './telemetry-client.js';

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
 * APPLICATIONINSIGHTS_CONNECTION_STRING; with one, the package is loaded on first use, after the
 * caller has moved on: tracking never throws, never waits for the load and never blocks a send.
 * The variable is read on each call rather than from the typed settings, so telemetry still works
 * (and reports the failure) when the other settings are invalid.
 */
let current: { connectionString: string; client: Promise<TelemetryClient | undefined> } | undefined;
let loadFailureReported = false;

const connectionStringNow = () => process.env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();

/** Whether telemetry is on: callers on a hot path skip building what would be thrown away. */
export const telemetryIsOn = (): boolean => Boolean(connectionStringNow());

function client(): Promise<TelemetryClient | undefined> | undefined {
  const connectionString = connectionStringNow();
  if (!connectionString) return undefined;
  if (current?.connectionString !== connectionString) {
    void retire(current?.client);
    current = { connectionString, client: load(connectionString) };
  }
  return current.client;
}

async function load(connectionString: string): Promise<TelemetryClient | undefined> {
  // let the caller's invocation finish its synchronous work before a second of require()
  await new Promise((resolve) => setImmediate(resolve));
  try {
    return await createTelemetryClient(connectionString);
  } catch (error) {
    if (!loadFailureReported) console.warn(`exosend telemetry is off: applicationinsights failed to load (${(error as Error).name})`);
    loadFailureReported = true;
    return undefined;
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
export function trackEvent(name: string, properties: EventProperties = {}, measurements: Record<string, number> = {}): void {
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
