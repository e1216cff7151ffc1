import type { TelemetryClient } from 'applicationinsights';

/**
 * Loads applicationinsights (over a second of require time) and builds a client for one
 * connection string. Only ever reached through a dynamic import, so no trigger's cold start pays
 * for it until telemetry is first used.
 *
 * `useGlobalProviders: false` gives the client its own exporters and nothing else: no
 * useAzureMonitor(), so no patched http, console or Azure SDK, no global OpenTelemetry providers,
 * no live metrics. The Functions host already records requests, dependencies and logs; exosend
 * adds only what the host cannot know: availability results and its own events.
 */
export async function createTelemetryClient(connectionString: string): Promise<TelemetryClient> {
  const { TelemetryClient } = await import('applicationinsights');
  return new TelemetryClient(connectionString, { useGlobalProviders: false });
}
