import { redactSecrets } from '../../src/diagnosis/redact-secrets.js';
import { connectStorage } from '../../src/storage/storage.js';
import { readStorageConnection } from '../../src/config/storage-connection.js';
import { readQueueHostOptions } from './host-json.js';
import { invocationContext, type LogSink } from './invocation.js';
import { startQueueListener, type QueueListener } from './queue-listener.js';
import { resolveSettings, type QueueRegistration } from './registrations.js';

/** Starts a listener per queue function, configured from host.json, on the connection its binding names. */
export async function startQueueHost(
  registrations: QueueRegistration[],
  log: LogSink,
): Promise<{ stop(): Promise<void> }> {
  const hostOptions = readQueueHostOptions();
  const listeners: QueueListener[] = [];
  for (const registration of registrations) {
    const setting = registration.connection || 'AzureWebJobsStorage';
    // a connection string, or the same identity-based settings the Functions host reads
    const connection = readStorageConnection(process.env, setting);
    if (!connection)
      throw new Error(
        `The queue function ${registration.name} needs the app setting ${setting} (or ${setting}__queueServiceUri).`,
      );
    const queueName = resolveSettings(registration.queueName);
    const { intake: queue, poison } = connectStorage(connection, queueName);
    await Promise.all([queue.createIfNotExists(), poison.createIfNotExists()]);
    listeners.push(
      startQueueListener({
        ...hostOptions,
        queue,
        poison,
        handler: async (body, metadata) => {
          await registration.handler(body, invocationContext(registration.name, { ...metadata }, log));
        },
        onError: (error, { id, dequeueCount }) => {
          const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          const next =
            dequeueCount >= (hostOptions.maxDequeueCount ?? 5)
              ? 'moved to the poison queue as it is'
              : 'it will be tried again';
          log(
            'error',
            registration.name,
            `message ${id} failed on try ${dequeueCount} (${redactSecrets(what).slice(0, 300)}); ${next}`,
          );
        },
      }),
    );
  }
  return { stop: async () => void (await Promise.all(listeners.map((l) => l.stop()))) };
}
