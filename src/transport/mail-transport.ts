import type { CallerTag } from '../auth/caller-scope.js';
import type { MailboxBudget } from '../budget/budget.js';
import type { ComposedMail } from '../mail/mime.js';

export interface Delivery {
  messageId: string;
  accepted: string[];
  rejected: string[];
  /** Exchange's final SMTP reply, or Graph's status line (`202 Accepted`). */
  response: string;
  /** Which way the message left. */
  transport: 'smtp' | 'graph';
}

export interface SendOptions {
  /** How long the send may wait for the mailbox's budget (a connection, the minute, the day). */
  waitUpToMs?: number;
  /** The caller it is sent for: its quota, share and day peers hold in the mailbox's budget. */
  caller?: CallerTag;
}

/**
 * The seam the pipeline sends through: one mailbox's way to Exchange (SMTP, Graph, or SMTP with
 * Graph behind it). Each sends the bytes composed once, under the mailbox's shared budget.
 */
export interface MailTransport {
  readonly kind: 'smtp' | 'graph' | 'auto';
  readonly budget: MailboxBudget;
  send(mail: ComposedMail, options?: SendOptions): Promise<Delivery>;
  close(): void;
  /**
   * The instance stops: ends what the transport holds and gives its leases back to the shared
   * budget, resolving once storage has them (src/functions/stop.ts).
   */
  stop(): Promise<void>;
}
