import type { AppCredential } from '../auth/app-credential.js';
import type { TokenProvider } from '../auth/token-provider.js';
import type { ExosendConfig } from '../config/load-config.js';
import type { MailSender } from '../pipeline/mail-sender.js';
import type { MailTransport } from '../transport/mail-transport.js';

/**
 * What health reads of the worker's runtime (src/runtime/runtime.ts builds it, and satisfies this).
 * The triggers pass the runtime in, so that health, below the composition root, never imports it.
 */
export interface HealthRuntime {
  config: ExosendConfig;
  credential: AppCredential;
  tokens: TokenProvider;
  transports: ReadonlyMap<string, MailTransport>;
  sender: MailSender;
}
