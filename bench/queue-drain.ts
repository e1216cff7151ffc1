import { randomUUID } from 'node:crypto';
import functions from '@azure/functions';
import { outboundMail } from '../src/functions/outbound-queue.js';
import { readQueueHostOptions } from '../local/host/host-json.js';
import { startQueueListener } from '../local/host/queue-listener.js';
import { encodeQueueMessage } from '../src/queue/queue-message.js';
import { connectStorage } from '../src/storage/storage.js';
import { startAzurite } from '../local/sandbox/azurite.js';
import { benchRequest } from './message.js';
import type { StandInCounts } from './stand-ins.js';
import type { StandIns } from './stand-ins-client.js';

const { InvocationContext } = functions;

export interface QueueDrain {
  messages: number;
  /** host.json's batchSize and newBatchThreshold, as the listener honours them. */
  batchSize: number;
  newBatchThreshold: number;
  /** From the listener's start to the last message's `queue.sent`. */
  drainMs: number;
  perSecond: number;
  enqueueMs: number;
  counts: StandInCounts;
}

/**
 * Azurite (queues, tables, blobs) and the real queue trigger, delivered by the local host's listener
 * configured from host.json; pacing off. `messages` requests are put on the queue first (base64 JSON,
 * as a producer puts them), then the listener starts and the clock runs until every one is sent.
 */
export async function measureQueueDrain(standIns: StandIns, messages: number): Promise<QueueDrain> {
  const azurite = await startAzurite();
  try {
    const queue = 'bench-outbound-mail';
    standIns.restartApp({
      AzureWebJobsStorage: azurite.connectionString,
      EXOSEND_QUEUE: queue,
      EXOSEND_QUEUE_RETRY_BASE_SECONDS: '0',
    });
    const storage = connectStorage({ kind: 'connectionString', connectionString: azurite.connectionString }, queue);
    await storage.ready();
    await standIns.reset();

    const enqueueStarted = performance.now();
    const run = randomUUID().slice(0, 8);
    for (let i = 0; i < messages; i += 100) {
      const batch = Array.from({ length: Math.min(100, messages - i) }, (_, j) => ({
        ...benchRequest(i + j),
        idempotencyKey: `bench-${run}-${i + j}`,
      }));
      await Promise.all(batch.map((request) => storage.intake.sendMessage(encodeQueueMessage(request))));
    }
    const enqueueMs = performance.now() - enqueueStarted;

    let sent = 0;
    const outcomes: string[] = [];
    let allSent!: () => void;
    const done = new Promise<void>((resolve) => (allSent = resolve));
    const hostOptions = readQueueHostOptions('host.json');
    const started = performance.now();
    const listener = startQueueListener({
      ...hostOptions,
      queue: storage.intake,
      poison: storage.poison,
      handler: (body, metadata) =>
        outboundMail(
          body,
          new InvocationContext({
            functionName: 'outbound-mail',
            triggerMetadata: { ...metadata },
            logHandler: (_level, ...args) => {
              const event = /"event":"exosend\.queue\.([a-z-]+)"/.exec(args.map(String).join(' '))?.[1];
              if (event !== 'sent') outcomes.push(event ?? 'unknown');
              else if (++sent === messages) allSent();
            },
          }),
        ),
    });
    const timeout = setTimeout(allSent, 300_000);
    await done;
    clearTimeout(timeout);
    const drainMs = performance.now() - started;
    await listener.stop();
    if (sent !== messages)
      throw new Error(`queue drain: ${sent} of ${messages} sent; other outcomes: ${outcomes.slice(0, 5).join(', ')}`);
    return {
      messages,
      batchSize: hostOptions.batchSize,
      newBatchThreshold: hostOptions.newBatchThreshold,
      drainMs,
      perSecond: messages / (drainMs / 1000),
      enqueueMs,
      counts: await standIns.counts(standIns.info.mailboxes.exosend),
    };
  } finally {
    standIns.restartApp();
    await azurite.close();
  }
}
