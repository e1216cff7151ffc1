import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';

export const recordsTable = 'exosendmessages';
export const requestsContainer = 'exosend-requests';

/** The storage exosend's queue path uses: intake and poison queues, status records, claim-checked requests. */
export interface QueueStorage {
  intake: QueueClient;
  poison: QueueClient;
  records: TableClient;
  requests: ContainerClient;
  /** Creates what is missing, once per process. */
  ready(): Promise<void>;
}

export function connectStorage(connectionString: string, queueName: string): QueueStorage {
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  // the emulator speaks plain HTTP; the tables client refuses that unless told
  const allowInsecureConnection = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(connectionString);
  const storage: Omit<QueueStorage, 'ready'> = {
    intake: queues.getQueueClient(queueName),
    poison: queues.getQueueClient(`${queueName}-poison`),
    records: TableClient.fromConnectionString(connectionString, recordsTable, { allowInsecureConnection }),
    requests: BlobServiceClient.fromConnectionString(connectionString).getContainerClient(requestsContainer),
  };
  let created: Promise<void> | undefined;
  const ready = () => {
    created ??= Promise.all([
      storage.intake.createIfNotExists(),
      storage.poison.createIfNotExists(),
      storage.records.createTable(),
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
