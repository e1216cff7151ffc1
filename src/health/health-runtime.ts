import type { AppCredential } from '../auth/app-credential.js';
import type { TokenProvider } from '../auth/token-provider.js';
import type { MailboxBudget } from '../budget/budget.js';
import type { ExosendConfig } from '../config/load-config.js';
import type { MailSender } from '../pipeline/mail-sender.js';
import type { GraphClient } from '../transport/graph-client.js';
import type { MailTransport } from '../transport/mail-transport.js';

/**
 * What health reads of the worker's runtime (src/runtime/runtime.ts builds it, and satisfies this).
 * The triggers pass the runtime in, so that health, below the composition root, never imports it.
 */
export interface HealthRuntime {
  config: ExosendConfig;
  credential: AppCredential;
  tokens: TokenProvider;
  /** Microsoft Graph's token cache, client and request leases, when EXOSEND_TRANSPORT is graph or auto. */
  graphTokens: TokenProvider | undefined;
  graph: GraphClient | undefined;
  graphConcurrency: MailboxBudget | undefined;
  transports: ReadonlyMap<string, MailTransport>;
  sender: MailSender;
}
