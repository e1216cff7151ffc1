import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { storageCredential } from './storage-credential.js';
import type { StorageConnection } from '../config/storage-connection.js';

export const recordsTable = 'exosendmessages';
/** Each message's recipients and what became of each (src/queue/delivery-store.ts). */
export const deliveriesTable = 'exosenddeliveries';
/** Recipients that hard-bounced, for every instance (src/queue/suppression-list.ts). */
export const suppressionsTable = 'exosendsuppressions';
/** Where each mailbox's Inbox reader is: its Graph deltaLink, its lease and its last result (src/storage/inbox-cursor-store.ts). */
export const inboxCursorsTable = 'exosendinboxcursors';
export const requestsContainer = 'exosend-requests';

/** The storage exosend's queue path uses: intake and poison queues, status records, claim-checked requests. */
export interface QueueStorage {
  intake: QueueClient;
  poison: QueueClient;
  records: TableClient;
  deliveries: TableClient;
  suppressions: TableClient;
  inboxCursors: TableClient;
  requests: ContainerClient;
  /** Any other queue of the same account (the outcomes queue). */
  queue(name: string): QueueClient;
  /** Creates what is missing, once per process. */
  ready(): Promise<void>;
}

/** The clients for one storage connection: a connection string (Azurite, local), or the host's identity settings. */
function clientsFor(connection: StorageConnection): {
  queues: QueueServiceClient;
  records: TableClient;
  deliveries: TableClient;
  suppressions: TableClient;
  inboxCursors: TableClient;
  blobs: BlobServiceClient;
} {
  if (connection.kind === 'connectionString') {
    const { connectionString } = connection;
    // the emulator speaks plain HTTP; the tables client refuses that unless told
    const allowInsecureConnection = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(connectionString);
    return {
      queues: QueueServiceClient.fromConnectionString(connectionString),
      records: TableClient.fromConnectionString(connectionString, recordsTable, { allowInsecureConnection }),
      deliveries: TableClient.fromConnectionString(connectionString, deliveriesTable, { allowInsecureConnection }),
      suppressions: TableClient.fromConnectionString(connectionString, suppressionsTable, { allowInsecureConnection }),
      inboxCursors: TableClient.fromConnectionString(connectionString, inboxCursorsTable, { allowInsecureConnection }),
      blobs: BlobServiceClient.fromConnectionString(connectionString),
    };
  }
  // one credential for the three clients: one token serves them all (audience https://storage.azure.com)
  const credential = storageCredential(connection);
  return {
    queues: new QueueServiceClient(connection.serviceUris.queue, credential),
    records: new TableClient(connection.serviceUris.table, recordsTable, credential),
    deliveries: new TableClient(connection.serviceUris.table, deliveriesTable, credential),
    suppressions: new TableClient(connection.serviceUris.table, suppressionsTable, credential),
    inboxCursors: new TableClient(connection.serviceUris.table, inboxCursorsTable, credential),
    blobs: new BlobServiceClient(connection.serviceUris.blob, credential),
  };
}

/** A bare string is a connection string (Azurite, tests). */
export function connectStorage(connection: StorageConnection | string, queueName: string): QueueStorage {
  const { queues, records, deliveries, suppressions, inboxCursors, blobs } = clientsFor(
    typeof connection === 'string' ? { kind: 'connectionString', connectionString: connection } : connection,
  );
  const storage: Omit<QueueStorage, 'ready'> = {
    intake: queues.getQueueClient(queueName),
    poison: queues.getQueueClient(`${queueName}-poison`),
    records,
    deliveries,
    suppressions,
    inboxCursors,
    requests: blobs.getContainerClient(requestsContainer),
    queue: (name) => queues.getQueueClient(name),
  };
  let created: Promise<void> | undefined;
  const ready = () => {
    created ??= Promise.all([
      storage.intake.createIfNotExists(),
      storage.poison.createIfNotExists(),
      storage.records.createTable(),
      storage.deliveries.createTable(),
      storage.requests.createIfNotExists(),
    ]).then(
      () => undefined,
      (error: unknown) => {
        created = undefined;
        throw error;
      },
    );
    return created;
  };
  return { ...storage, ready };
}
