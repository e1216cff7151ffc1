/** Throughput and latency of a set of sends. */
export interface Throughput {
  messages: number;
  failures: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of the sending process per message, in microseconds (the stand-ins run elsewhere). */
  cpuUsPerMessage: number;
}

/** Nearest-rank percentile of values sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Pools batches: messages over the time spent in them, percentiles over every latency. */
export function summarise(
  batches: readonly { latenciesMs: readonly number[]; durationMs: number; cpuUs: number; failures: number }[],
): Throughput {
  const latencies = batches.flatMap((b) => b.latenciesMs).sort((a, b) => a - b);
  const durationMs = batches.reduce((sum, b) => sum + b.durationMs, 0);
  return {
    messages: latencies.length,
    failures: batches.reduce((sum, b) => sum + b.failures, 0),
    perSecond: latencies.length / (durationMs / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    cpuUsPerMessage: batches.reduce((sum, b) => sum + b.cpuUs, 0) / latencies.length,
  };
}
