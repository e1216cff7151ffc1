import { ClientSecretAppCredential } from './auth/client-secret-credential.js';
import { SecretSource } from './auth/secret-source.js';
import { TokenProvider } from './auth/token-provider.js';
import { loadConfig, type ExosendConfig } from './config.js';
import { MailSender } from './pipeline/mail-sender.js';
import { MailboxTransport } from './transport/mailbox-transport.js';

/** What a warm worker keeps between invocations, so that it pays for none of it twice. */
export interface Runtime {
  config: ExosendConfig;
  secrets: SecretSource;
  tokens: TokenProvider;
  transport: MailboxTransport;
  sender: MailSender;
}

export function createRuntime(config: ExosendConfig): Runtime {
  const secrets = new SecretSource(config);
  const tokens = new TokenProvider(new ClientSecretAppCredential(config, secrets), { expect: config });
  const transport = new MailboxTransport(config, tokens);
  return { config, secrets, tokens, transport, sender: new MailSender(config.mailbox, tokens, transport) };
}

let current: Runtime | undefined;

/** The process-wide runtime, built from the environment on first use. */
export function getRuntime(): Runtime {
  current ??= createRuntime(loadConfig());
  return current;
}

/** Closes the SMTP pool and forgets every cache: the next use starts cold (tests, settings reload). */
export function resetRuntime(): void {
  current?.transport.close();
  current = undefined;
}
