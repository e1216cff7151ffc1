import { readFileSync } from 'node:fs';

export interface QueueHostOptions {
  messageEncoding: 'base64' | 'none';
  batchSize: number;
  newBatchThreshold: number;
  maxDequeueCount: number;
  visibilityTimeoutInMs: number;
  maxPollingIntervalInMs: number;
}

/** host.json's queue settings with the host's defaults. host.json is strict JSON (docs/operations.md, "host.json"). */
export function readQueueHostOptions(file = 'host.json'): QueueHostOptions {
  const queues =
    (JSON.parse(readFileSync(file, 'utf8')) as { extensions?: { queues?: Record<string, unknown> } }).extensions
      ?.queues ?? {};
  const batchSize = Number(queues['batchSize'] ?? 16);
  return {
    messageEncoding: queues['messageEncoding'] === 'none' ? 'none' : 'base64',
    batchSize,
    newBatchThreshold: Number(queues['newBatchThreshold'] ?? Math.floor(batchSize / 2)),
    maxDequeueCount: Number(queues['maxDequeueCount'] ?? 5),
    visibilityTimeoutInMs: timeSpanInMs(queues['visibilityTimeout'], 0),
    maxPollingIntervalInMs: timeSpanInMs(queues['maxPollingInterval'], 60_000),
  };
}

/** A .NET TimeSpan as host.json writes it: "hh:mm:ss". */
function timeSpanInMs(value: unknown, fallback: number): number {
  const match = typeof value === 'string' ? /^(\d+):(\d{2}):(\d{2})$/.exec(value) : null;
  return match ? ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3])) * 1000 : fallback;
}
