import { setTimeout as sleep } from 'node:timers/promises';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';

/** The trigger metadata the Functions host hands a queue function (camel-cased, as the Node worker does). */
export interface QueueTriggerMetadata {
  id: string;
  dequeueCount: number;
  insertionTime: Date;
  expirationTime: Date;
  nextVisibleTime: Date;
  popReceipt: string;
}

/** host.json's `extensions.queues`, as far as a local host honours it. */
export interface QueueListenerOptions {
  queue: QueueClient;
  poison: QueueClient;
  handler: (body: unknown, metadata: QueueTriggerMetadata) => Promise<void>;
  messageEncoding?: 'base64' | 'none';
  batchSize?: number;
  newBatchThreshold?: number;
  maxDequeueCount?: number;
  /** Delay before a message whose function failed is visible again. */
  visibilityTimeoutInMs?: number;
  maxPollingIntervalInMs?: number;
  /** Told of a delivery whose function threw, or that storage failed under: the host logs these too. */
  onError?: (error: unknown, metadata: Pick<QueueTriggerMetadata, 'id' | 'dequeueCount'>) => void;
  /** How long a received message stays invisible while its function runs: the host's 10 minutes unless a test needs a dead worker's messages back sooner. */
  receiveVisibilityInMs?: number;
}

export interface QueueListener {
  /** Stops polling and waits for the functions under way. */
  stop(): Promise<void>;
}

/**
 * Delivers queue messages to a function as the Functions host does: in batches, decoded per
 * host.json, with the dequeue count; a message is deleted when the function returns, made visible
 * again when it throws, and moved as it is to `<queue>-poison` after `maxDequeueCount` tries.
 */
export function startQueueListener(options: QueueListenerOptions): QueueListener {
  const { queue, poison, handler, messageEncoding = 'base64', batchSize = 16, maxDequeueCount = 5 } = options;
  const newBatchThreshold = options.newBatchThreshold ?? Math.floor(batchSize / 2);
  const visibilityTimeoutSeconds = Math.round((options.visibilityTimeoutInMs ?? 0) / 1000);
  const maxIdleInMs = options.maxPollingIntervalInMs ?? 2000;
  const receiveVisibilitySeconds = Math.round((options.receiveVisibilityInMs ?? 600_000) / 1000);
  const inFlight = new Set<Promise<void>>();
  const stopping = new AbortController();

  const deliver = async (item: DequeuedMessageItem) => {
    const metadata: QueueTriggerMetadata = {
      id: item.messageId,
      dequeueCount: item.dequeueCount,
      insertionTime: item.insertedOn,
      expirationTime: item.expiresOn,
      nextVisibleTime: item.nextVisibleOn,
      popReceipt: item.popReceipt,
    };
    if (item.dequeueCount > maxDequeueCount) {
      // already tried as often as allowed (a host that died mid-delivery): the host poisons it unseen
      await poison.sendMessage(item.messageText);
      await queue.deleteMessage(item.messageId, item.popReceipt);
      return;
    }
    try {
      await handler(decodeBody(item.messageText, messageEncoding), metadata);
      await queue.deleteMessage(item.messageId, item.popReceipt);
    } catch (error) {
      options.onError?.(error, metadata);
      if (item.dequeueCount >= maxDequeueCount) {
        await poison.sendMessage(item.messageText);
        await queue.deleteMessage(item.messageId, item.popReceipt);
      } else {
        await queue.updateMessage(item.messageId, item.popReceipt, undefined, visibilityTimeoutSeconds);
      }
    }
  };

  const poll = async () => {
    let idle = 50;
    while (!stopping.signal.aborted) {
      if (inFlight.size > newBatchThreshold) {
        await Promise.race(inFlight);
        continue;
      }
      const { receivedMessageItems } = await queue
        .receiveMessages({ numberOfMessages: Math.min(32, batchSize), visibilityTimeout: receiveVisibilitySeconds })
        .catch(() => ({ receivedMessageItems: [] as DequeuedMessageItem[] }));
      for (const item of receivedMessageItems) {
        const delivery = deliver(item).catch((error: unknown) =>
          options.onError?.(error, { id: item.messageId, dequeueCount: item.dequeueCount }),
        );
        inFlight.add(delivery);
        void delivery.finally(() => inFlight.delete(delivery));
      }
      idle = receivedMessageItems.length > 0 ? 50 : Math.min(idle * 2, maxIdleInMs);
      if (receivedMessageItems.length === 0)
        await sleep(idle, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  };
  const polling = poll();

  return {
    stop: async () => {
      stopping.abort();
      await polling;
      await Promise.all(inFlight);
    },
  };
}

/** As the host: decode per the encoding (a bad one fails the delivery), then hand over parsed JSON when the text is JSON. */
function decodeBody(text: string, encoding: 'base64' | 'none'): unknown {
  if (encoding === 'base64' && (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text))) {
    throw new Error("The message is not valid base64, as host.json's messageEncoding requires.");
  }
  const decoded = encoding === 'base64' ? Buffer.from(text, 'base64').toString('utf8') : text;
  try {
    return JSON.parse(decoded);
  } catch {
    return decoded;
  }
}
