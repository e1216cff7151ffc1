import type { BudgetUsage } from '../budget/budget.js';
import { AutoTransport } from '../transport/auto-transport.js';
import { GraphTransport, type GraphRequestUsage } from '../transport/graph-transport.js';
import type { MailTransport } from '../transport/mail-transport.js';
import type { HealthRuntime } from './health-runtime.js';

/** A mailbox's budget on SMTP: Exchange's 30 messages a minute, its sessions (3), its 10,000 recipients a day. */
export interface SmtpBudgetUsage {
  transport: 'smtp';
  mailbox: string;
  scope: BudgetUsage['scope'];
  minute: BudgetUsage['minute'];
  sessions: BudgetUsage['connections'];
  day: BudgetUsage['day'];
}

/**
 * A mailbox's budget on Microsoft Graph: the app's requests in flight (Outlook: 4 at once), its
 * requests in 10 minutes (10,000 per app and mailbox), and the same day as on SMTP (Exchange counts
 * the recipients whichever way the message came).
 */
export interface GraphBudgetUsage extends GraphRequestUsage {
  transport: 'graph';
  mailbox: string;
  scope: BudgetUsage['scope'];
  concurrentRequests: { used: number; limit: number };
  day: BudgetUsage['day'];
}

export type TransportBudgetUsage = SmtpBudgetUsage | GraphBudgetUsage;

/**
 * Each mailbox's budget per transport it can send by: `smtp` one entry, `graph` one, `auto` both
 * (it may use either at any time). A budget that cannot be read is left out: health must still answer.
 */
export async function transportBudgetsOf(runtime: Pick<HealthRuntime, 'transports'>): Promise<TransportBudgetUsage[]> {
  const entries = await Promise.all([...runtime.transports.values()].map((t) => entriesOf(t).catch(() => [])));
  return entries.flat();
}

async function entriesOf(transport: MailTransport): Promise<TransportBudgetUsage[]> {
  const usage = await transport.budget.usage();
  const smtp: SmtpBudgetUsage = {
    transport: 'smtp',
    mailbox: usage.mailbox,
    scope: usage.scope,
    minute: usage.minute,
    sessions: usage.connections,
    day: usage.day,
  };
  const graph =
    transport instanceof GraphTransport ? transport : transport instanceof AutoTransport ? transport.graph : undefined;
  if (!graph) return [smtp];
  const requests = await graph.concurrency.usage();
  const viaGraph: GraphBudgetUsage = {
    transport: 'graph',
    mailbox: usage.mailbox,
    scope: usage.scope,
    concurrentRequests: requests.connections,
    ...graph.requestUsage(),
    day: usage.day,
  };
  return transport instanceof AutoTransport ? [smtp, viaGraph] : [viaGraph];
}
