import { setTimeout as sleep } from 'node:timers/promises';
import { TableClient } from '@azure/data-tables';
import { budgetTable } from '../src/budget/table-budget.js';
import { outboundMail } from '../src/functions/outbound-queue.js';
import { startQueueListener, type QueueListener } from '../local/host/queue-listener.js';
import { StatusStore, type MessageRecord } from '../src/queue/status-store.js';
import { connectStorage, type QueueStorage } from '../src/storage/storage.js';
import { startAzurite, type Azurite } from '../local/sandbox/azurite.js';
import type { Harness } from './harness.js';

export interface QueueFixture {
  azurite: Azurite;
  storage: QueueStorage;
  store: StatusStore;
  /** The app settings the queue path needs, to pass to `h.restartApp`. */
  settings: Record<string, string>;
  /**
   * Between tests: no listener running; the intake and poison queues, the claim-check blobs and the
   * budget ledger empty; and the app started cold as `resetApp` starts it.
   */
  reset(): Promise<void>;
  /**
   * The app started cold with the queue settings and these on top, on a healthy sandbox (no fault
   * injected) with zeroed counters (`h.reset`), Exchange counting no rate: exosend's own pacing is
   * what a test sets.
   */
  resetApp(settings?: Record<string, string | undefined>): void;
  /** Delivers the intake queue to the real trigger function, as the Functions host would; `reset` and `close` stop it. */
  startListener(): QueueListener;
  /** Stops every listener `startListener` started, and waits for their deliveries in flight. */
  stopListeners(): Promise<void>;
  waitUntilFinished(ids: string[], timeoutInMs?: number): Promise<MessageRecord[]>;
  /** Waits until `total` records are sent or failed; counts them, and the attempts they took. */
  waitForCounts(total: number, timeoutInMs?: number): Promise<{ sent: number; failed: number; attempts: number }>;
  close(): Promise<void>;
}

/**
 * Azurite (queue, table, blob) and the queue settings, on top of a harness's sandbox; the app is
 * started with them (`resetApp`). A test file calls `reset` before each test.
 */
export async function startQueueFixture(h: Harness): Promise<QueueFixture> {
  const azurite = await startAzurite();
  const settings = {
    AzureWebJobsStorage: azurite.connectionString,
    EXOSEND_QUEUE: 'outbound-mail',
    // retries come back at once here; their delays have their own unit test
    EXOSEND_QUEUE_RETRY_BASE_SECONDS: '0',
    EXOSEND_RATE_PER_MINUTE: '100000',
  };
  const storage = connectStorage(
    { kind: 'connectionString', connectionString: azurite.connectionString },
    settings.EXOSEND_QUEUE,
  );
  await storage.ready();
  const store = new StatusStore(storage.records);
  // the mailboxes' shared ledger (src/budget/table-budget.ts): what one test sent must not pace the next
  const budgets = TableClient.fromConnectionString(azurite.connectionString, budgetTable, {
    allowInsecureConnection: true,
  });
  const listeners: QueueListener[] = [];

  const stopListeners = async () => {
    await Promise.all(listeners.splice(0).map((l) => l.stop()));
  };
  const resetApp: QueueFixture['resetApp'] = (extra = {}) => {
    h.reset({ ...settings, ...extra });
    // h.reset gives the stand-in Exchange Online's 30 a minute back
    h.sandbox.exchange.setLimits({ messagesPerMinute: 0 });
  };
  resetApp();

  return {
    azurite,
    storage,
    store,
    settings,
    reset: async () => {
      await stopListeners();
      // clearMessages takes the invisible ones too, such as a delayed retry or the look-again of an in-flight delivery
      await Promise.all([storage.intake.clearMessages(), storage.poison.clearMessages()]);
      for await (const blob of storage.requests.listBlobsFlat()) await storage.requests.deleteBlob(blob.name);
      await budgets.createTable();
      for await (const e of budgets.listEntities()) await budgets.deleteEntity(e.partitionKey!, e.rowKey!);
      resetApp();
    },
    resetApp,
    stopListeners,
    startListener: () => {
      const listener = startQueueListener({
        queue: storage.intake,
        poison: storage.poison,
        messageEncoding: 'none',
        batchSize: 16,
        maxPollingIntervalInMs: 200,
        handler: (body, metadata) => outboundMail(body, h.context('outbound-mail', { ...metadata })),
      });
      listeners.push(listener);
      return listener;
    },
    waitUntilFinished: async (ids, timeoutInMs = 60_000) => {
      const deadline = Date.now() + timeoutInMs;
      for (;;) {
        const records = await Promise.all(ids.map((id) => store.get(id)));
        if (records.every((r) => r?.status === 'sent' || r?.status === 'failed')) return records as MessageRecord[];
        if (Date.now() > deadline)
          throw new Error(
            `not finished: ${JSON.stringify(records.filter((r) => r?.status !== 'sent' && r?.status !== 'failed').slice(0, 5))}`,
          );
        await sleep(100);
      }
    },
    waitForCounts: async (total, timeoutInMs = 60_000) => {
      const deadline = Date.now() + timeoutInMs;
      for (;;) {
        const counts = { sent: 0, failed: 0, attempts: 0 };
        for await (const e of storage.records.listEntities<{ status: string; attempts: number }>({
          queryOptions: { select: ['status', 'attempts'] },
        })) {
          if (e.status === 'sent') counts.sent++;
          if (e.status === 'failed') counts.failed++;
          counts.attempts += e.attempts;
        }
        if (counts.sent + counts.failed >= total) return counts;
        if (Date.now() > deadline) throw new Error(`only ${counts.sent} sent and ${counts.failed} failed of ${total}`);
        await sleep(500);
      }
    },
    close: async () => {
      await stopListeners();
      await azurite.close();
    },
  };
}

/** Takes every message off a queue and returns them decoded (base64 JSON), oldest first. */
export async function drain(storage: QueueStorage, queue: 'intake' | 'poison'): Promise<any[]> {
  const client = storage[queue];
  const out: any[] = [];
  for (;;) {
    const { receivedMessageItems } = await client.receiveMessages({ numberOfMessages: 32 });
    if (receivedMessageItems.length === 0) return out;
    for (const item of receivedMessageItems) {
      try {
        out.push(JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')));
      } catch {
        out.push(item.messageText);
      }
      await client.deleteMessage(item.messageId, item.popReceipt);
    }
  }
}
