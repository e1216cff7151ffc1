import type { QueueClient } from '@azure/storage-queue';
import type { RecipientStatus } from '../mail/recipient-delivery.js';

/**
 * A final outcome, as a small JSON event on EXOSEND_OUTCOMES_QUEUE for producers that would rather
 * not poll GET /api/messages/{id}: the message's (`sent`, `failed`) and, later, each recipient's
 * (`delivered`, `failed`, `quarantined`, ... from a delivery report). The id, codes and times only:
 * never a body, a subject or a token. The queue holds plain JSON (host.json's messageEncoding is
 * `none`), so a consumer in any language reads it as it is.
 */
export type OutcomeEvent =
  | { kind: 'message'; id: string; status: 'sent' | 'failed'; messageId?: string; code?: string; at: string }
  | {
      kind: 'recipient';
      id: string;
      recipient: string;
      status: RecipientStatus;
      statusCode?: string;
      code?: string;
      suppressed?: boolean;
      source: 'report' | 'trace';
      at: string;
    };

export interface OutcomeSink {
  publish(events: readonly OutcomeEvent[]): Promise<void>;
}

/** Outcomes on a storage queue, created on first use. */
export class OutcomeQueue implements OutcomeSink {
  private created: Promise<unknown> | undefined;

  constructor(private readonly queue: QueueClient) {}

  async publish(events: readonly OutcomeEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.created ??= this.queue.createIfNotExists().catch((error: unknown) => {
      this.created = undefined;
      throw error;
    });
    await this.created;
    for (const event of events) await this.queue.sendMessage(JSON.stringify(event));
  }
}
