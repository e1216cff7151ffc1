/** What one batch of calls did: each call's latency, the batch's wall time, and what failed. */
export interface Batch {
  latenciesMs: number[];
  durationMs: number;
  /** CPU time this process spent during the batch (user + system), in microseconds. */
  cpuUs: number;
  failures: number;
  firstError: string | undefined;
  /** `performance.now()` when the first call succeeded. */
  firstSuccessAt: number | undefined;
}

/**
 * Makes `count` calls, `concurrency` at a time (each caller starts its next call when one ends).
 * `prepare` runs before each call's clock starts (what a host does before it invokes a function);
 * its time counts in the batch's wall time, not in the call's latency.
 */
export async function drive<T>(
  count: number,
  concurrency: number,
  prepare: (index: number) => T,
  call: (prepared: T) => Promise<void>,
): Promise<Batch> {
  const batch: Batch = {
    latenciesMs: [],
    durationMs: 0,
    cpuUs: 0,
    failures: 0,
    firstError: undefined,
    firstSuccessAt: undefined,
  };
  let next = 0;
  const caller = async () => {
    for (let index = next++; index < count; index = next++) {
      const prepared = prepare(index);
      const started = performance.now();
      try {
        await call(prepared);
        const ended = performance.now();
        batch.firstSuccessAt ??= ended;
        batch.latenciesMs.push(ended - started);
      } catch (error) {
        batch.failures++;
        batch.firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, caller));
  batch.durationMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  batch.cpuUs = used.user + used.system;
  return batch;
}
