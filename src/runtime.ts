import type { AppCredential } from './auth/app-credential.js';
import { createAppCredential } from './auth/create-app-credential.js';
import { TokenProvider } from './auth/token-provider.js';
import { createBudget } from './budget/create-budget.js';
import { loadConfig, type ExosendConfig } from './config.js';
import { MailSender } from './pipeline/mail-sender.js';
import { MailboxTransport } from './transport/mailbox-transport.js';

/** What a warm worker keeps between invocations, so that it pays for none of it twice. */
export interface Runtime {
  config: ExosendConfig;
  /** The app's credential (EXOSEND_CREDENTIAL), with its vault read cached for the worker's life. */
  credential: AppCredential;
  tokens: TokenProvider;
  /** The default mailbox's transport (EXOSEND_MAILBOX). */
  transport: MailboxTransport;
  /** One transport, with its own sessions and budget, per mailbox exosend authenticates as. */
  transports: ReadonlyMap<string, MailboxTransport>;
  sender: MailSender;
}

export function createRuntime(config: ExosendConfig): Runtime {
  const credential = createAppCredential(config);
  const tokens = new TokenProvider(credential, { expect: config });
  const transports = new Map(
    config.mailboxes.map((mailbox) => [mailbox, new MailboxTransport({ ...config, mailbox, budget: createBudget(config, mailbox) }, tokens)]),
  );
  const transport = transports.get(config.mailbox)!;
  return { config, credential, tokens, transport, transports, sender: new MailSender(config.mailbox, tokens, transports) };
}

let current: Runtime | undefined;

/** The process-wide runtime, built from the environment on first use. */
export function getRuntime(): Runtime {
  current ??= createRuntime(loadConfig());
  return current;
}

/** Closes the SMTP sessions and forgets every cache: the next use starts cold (tests, settings reload). */
export function resetRuntime(): void {
  for (const transport of current?.transports.values() ?? []) transport.close();
  current = undefined;
  stopping = undefined;
}

let stopping: Promise<void> | undefined;
/** Storage that does not answer must not keep a stopping instance past the host's grace period (5 s). */
const stopWithinMs = 3000;

/**
 * The instance stops: every mailbox's sessions end and their leases go back to the shared budget,
 * so that other instances need not wait for them to lapse. Resolves once storage has them, or
 * after 3 s at most. The stopped transports stay in place: a send that still comes fails rather
 * than take a session nobody would give back.
 */
export function stopRuntime(): Promise<void> {
  const runtime = current;
  stopping ??= runtime
    ? Promise.race([
        Promise.all([...runtime.transports.values()].map((t) => t.stop())).then(() => undefined),
        new Promise<void>((resolve) => setTimeout(resolve, stopWithinMs).unref()),
      ])
    : Promise.resolve();
  return stopping;
}
