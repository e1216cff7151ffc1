import { ConfigError } from '../config/config-error.js';
import { storageRequired } from '../config/storage-connection.js';
import { getRuntime, type Runtime } from './runtime.js';
import type { QueueDeps } from '../pipeline/process-queue-message.js';

let current: { runtime: Runtime; deps: Promise<QueueDeps> } | undefined;

/**
 * The queue path's process-wide parts: the send runtime's, plus storage for queues, records and
 * blobs. The storage SDKs load on first use, so that a worker that only serves /api/send (or the
 * health timer) never pays for them at cold start.
 */
export function getQueueRuntime(): Promise<QueueDeps> {
  const runtime = getRuntime();
  if (current?.runtime === runtime) return current.deps;
  const { config, sender } = runtime;
  const connection = config.storage;
  if (!connection) {
    return Promise.reject(new ConfigError([{ variable: 'AzureWebJobsStorage', message: storageRequired('the queue, /api/enqueue and /api/messages') }]));
  }
  const deps = Promise.all([import('../storage/storage.js'), import('../queue/status-store.js')]).then(([{ connectStorage }, { StatusStore }]) => {
    const storage = connectStorage(connection, config.queue);
    return { config, sender, storage, store: new StatusStore(storage.records) };
  });
  current = { runtime, deps };
  return deps;
}
