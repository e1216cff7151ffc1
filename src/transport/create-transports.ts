import type { AppCredential } from '../auth/app-credential.js';
import { checkGraphClaims, graphScopeFor } from '../auth/graph-claims.js';
import { TokenProvider } from '../auth/token-provider.js';
import type { MailboxBudget } from '../budget/budget.js';
import { createBudget } from '../budget/create-budget.js';
import type { ExosendConfig } from '../config/load-config.js';
import { AutoTransport, type TransportSwitch } from './auto-transport.js';
import { GraphClient } from './graph-client.js';
import { GraphTransport } from './graph-transport.js';
import type { MailTransport } from './mail-transport.js';
import { MailboxTransport } from './mailbox-transport.js';

/**
 * Outlook service limits (microsoftgraph/microsoft-graph-docs-contrib, concepts/throttling-limits.md,
 * "Limits per app ID"): Outlook executes up to 4 concurrent requests per app, whichever mailboxes
 * they target. One lease of the four stays free for the health check's own, as with SMTP sessions.
 */
export const graphConcurrentRequests = 4;

export interface MailTransports {
  /** One transport per mailbox exosend sends as, EXOSEND_MAILBOX first. */
  transports: Map<string, MailTransport>;
  /** The Graph token cache (scope graphScopeFor(EXOSEND_GRAPH_ENDPOINT)), when a transport uses Graph. */
  graphTokens: TokenProvider | undefined;
  graph: GraphClient | undefined;
  /** The app's Graph requests in flight (graphConcurrentRequests), shared by every mailbox: the health check takes its own from it. */
  graphConcurrency: MailboxBudget | undefined;
}

/** The transports EXOSEND_TRANSPORT asks for, each mailbox with its one budget whatever way it sends. */
export interface MailTransportsOptions {
  /** Told when an `auto` mailbox switches (the runtime logs it and sends it to telemetry). */
  onSwitch?: (change: TransportSwitch) => void;
  /** While on Graph, how long before an `auto` mailbox tries SMTP again (default 15 minutes). */
  smtpRetryInMs?: number;
}

export function createMailTransports(
  config: ExosendConfig,
  credential: AppCredential,
  tokens: TokenProvider,
  options: MailTransportsOptions = {},
): MailTransports {
  const usesGraph = config.transport !== 'smtp';
  const graphScope = graphScopeFor(config.graphEndpoint);
  // the same app credential, its own cached token: one token per scope
  const graphTokens = usesGraph
    ? new TokenProvider(credential, { expect: { ...config, scope: graphScope }, check: checkGraphClaims })
    : undefined;
  const graph = graphTokens ? new GraphClient({ endpoint: config.graphEndpoint, tokens: graphTokens }) : undefined;
  // the app's Graph concurrency, in the same shared ledger as the mailboxes' budgets, under its own key
  const concurrency = graph
    ? createBudget({ ...config, maxConnections: graphConcurrentRequests }, `graph-app-${config.clientId.toLowerCase()}`)
    : undefined;
  const transports = new Map<string, MailTransport>(
    config.mailboxes.map((mailbox) => {
      const budget = createBudget(config, mailbox);
      if (config.transport === 'smtp' || !graph || !concurrency)
        return [mailbox, new MailboxTransport({ ...config, mailbox, budget }, tokens)];
      const viaGraph = new GraphTransport({ ...config, mailbox, budget, concurrency, scope: graphScope }, graph);
      if (config.transport === 'graph') return [mailbox, viaGraph];
      // one budget object for both ways: the minute and the day count every message of the mailbox
      const viaSmtp = new MailboxTransport({ ...config, mailbox, budget }, tokens);
      return [mailbox, new AutoTransport(viaSmtp, viaGraph, { mailbox, ...options })];
    }),
  );
  return { transports, graphTokens, graph, graphConcurrency: concurrency };
}
