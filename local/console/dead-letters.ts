import type { DequeuedMessageItem } from '@azure/storage-queue';
import { decodeQueueMessage } from '../../src/queue/queue-message.js';
import {
  requeueDeadLetter,
  whyNotRequeueable,
  type RequeueableLetter,
  type RequeueOutcome,
} from '../../src/queue/requeue.js';
import type { StatusStore } from '../../src/queue/status-store.js';
import type { QueueStorage } from '../../src/storage/storage.js';

/** A poison queue message as the console shows it. */
export interface DeadLetterView {
  messageId: string;
  insertedOn: string | undefined;
  /** exosend's letter: id, code, diagnosis, reason, history, attempts, request; absent when the host moved a raw message. */
  letter: Record<string, unknown> | undefined;
  /** The message text when it is not exosend's letter (the host moved it after its tries), cut short. */
  raw?: string;
  /** Why it cannot be put back, when it cannot. */
  notRequeueable?: string;
}

/** The poison queue can only be peeked 32 at a time: the console shows the oldest 32. */
const peekLimit = 32;

/** The poison queue, read without taking anything off it, and a letter put back on the intake queue. */
export class DeadLetters {
  constructor(
    private readonly storage: QueueStorage,
    private readonly store: StatusStore,
  ) {}

  async list(): Promise<DeadLetterView[]> {
    await this.storage.ready();
    const { peekedMessageItems } = await this.storage.poison.peekMessages({ numberOfMessages: peekLimit });
    return peekedMessageItems.map((item) => view(item.messageId, item.insertedOn, item.messageText));
  }

  /** Puts one letter back; undefined when it is no longer on the poison queue. */
  async requeue(messageId: string): Promise<{ outcome: RequeueOutcome } | { refused: string } | undefined> {
    await this.storage.ready();
    // a queue message can only be deleted once received: take a batch, put back what is not wanted
    const { receivedMessageItems } = await this.storage.poison.receiveMessages({
      numberOfMessages: peekLimit,
      visibilityTimeout: 60,
    });
    const wanted = receivedMessageItems.find((item) => item.messageId === messageId);
    const others = receivedMessageItems.filter((item) => item !== wanted);
    await Promise.all(others.map((item) => this.release(item)));
    if (!wanted) return undefined;
    const { letter, notRequeueable } = view(wanted.messageId, wanted.insertedOn, wanted.messageText);
    if (notRequeueable || !letter) {
      await this.release(wanted);
      return { refused: notRequeueable ?? 'it is not a dead letter exosend wrote' };
    }
    try {
      const outcome = await requeueDeadLetter(this.storage, this.store, letter as unknown as RequeueableLetter);
      // requeued, or its request was sent after all: this letter is done with. Any other state
      // (queued, sending, or a record of other content) keeps the letter: it may be all that is left of its request.
      if (outcome.kind === 'requeued' || outcome.status === 'sent')
        await this.storage.poison.deleteMessage(wanted.messageId, wanted.popReceipt);
      else await this.release(wanted);
      return { outcome };
    } catch (error) {
      await this.release(wanted);
      throw error;
    }
  }

  private release(item: DequeuedMessageItem): Promise<unknown> {
    return this.storage.poison.updateMessage(item.messageId, item.popReceipt, undefined, 0).catch(() => undefined);
  }
}

function view(messageId: string, insertedOn: Date | undefined, text: string): DeadLetterView {
  const decoded = decodeQueueMessage(text);
  const json = decoded.kind === 'request' ? decoded.json : undefined;
  const base = { messageId, insertedOn: insertedOn?.toISOString() };
  if (typeof json === 'object' && json !== null && 'id' in json && ('code' in json || 'failedAt' in json)) {
    const letter = json as Record<string, unknown>;
    const reason = whyNotRequeueable(letter);
    return { ...base, letter, ...(reason && { notRequeueable: reason }) };
  }
  return {
    ...base,
    letter: undefined,
    raw: text.slice(0, 2000),
    notRequeueable:
      'the Functions host moved it here after its tries: it holds no diagnosis, and exosend never read a request from it',
  };
}
