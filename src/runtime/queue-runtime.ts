import { ConfigError } from '../config/config-error.js';
import { loadDeliverySettings } from '../config/delivery-settings.js';
import { storageRequired } from '../config/storage-connection.js';
import { getRuntime, type Runtime } from './runtime.js';
import type { QueueDeps } from '../pipeline/process-queue-message.js';
import type { RecordedSendDeps } from '../pipeline/send-once.js';

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
    return Promise.reject(
      new ConfigError([
        { variable: 'AzureWebJobsStorage', message: storageRequired('the queue, /api/enqueue and /api/messages') },
      ]),
    );
  }
  const modules = [
    import('../storage/storage.js'),
    import('../queue/status-store.js'),
    import('../queue/delivery-store.js'),
    import('../queue/suppression-list.js'),
    import('../queue/outcome-events.js'),
  ] as const;
  const deps = Promise.all(modules).then(
    ([{ connectStorage }, { StatusStore }, { DeliveryStore }, { SuppressionList }, { OutcomeQueue }]) => {
      const storage = connectStorage(connection, config.queue);
      // every final outcome also on EXOSEND_OUTCOMES_QUEUE (src/queue/outcome-events.ts)
      const outcomes = new OutcomeQueue(storage.queue(loadDeliverySettings().outcomesQueue));
      const stores = {
        store: new StatusStore(storage.records, outcomes),
        deliveries: new DeliveryStore(storage.deliveries),
        suppressions: new SuppressionList(storage.suppressions),
      };
      return { config, sender, storage, ...stores };
    },
  );
  current = { runtime, deps };
  return deps;
}

/** How long a repeat of /api/send waits for the first send of the same content: inside a caller's usual 30 s. */
const waitForFirstInMs = 25_000;

/**
 * /api/send's records, on the queue path's storage; undefined when no storage is set (a local
 * process alone): /api/send then sends as it always did, with no record and no repeat detection.
 */
export async function getSendRecords(): Promise<RecordedSendDeps | undefined> {
  if (!getRuntime().config.storage) return undefined;
  const { config, storage, store, deliveries, suppressions } = await getQueueRuntime();
  // the tables exist once per worker (a fresh Azurite, a fresh account has none); later calls wait on nothing
  await storage.ready();
  return {
    store,
    deliveries: deliveries!,
    ...(suppressions && { suppressions }),
    claimLeaseInMs: 5 * config.leaseTtlInMs,
    waitForFirstInMs,
  };
}
