import { ConfigError } from '../config.js';
import { getRuntime, type Runtime } from '../runtime.js';
import type { QueueDeps } from './process-message.js';
import { StatusStore } from './status-store.js';
import { connectStorage } from './storage.js';

let current: { runtime: Runtime; deps: QueueDeps } | undefined;

/** The queue path's process-wide parts: the send runtime's, plus storage for queues, records and blobs. */
export function getQueueRuntime(): QueueDeps {
  const runtime = getRuntime();
  if (current?.runtime === runtime) return current.deps;
  const { config, sender } = runtime;
  if (!config.storageConnection) {
    throw new ConfigError([{ variable: 'AzureWebJobsStorage', message: 'is required for the queue, /api/enqueue and /api/messages' }]);
  }
  const storage = connectStorage(config.storageConnection, config.queue);
  current = { runtime, deps: { config, sender, storage, store: new StatusStore(storage.records) } };
  return current.deps;
}
