import type { AppCredential } from '../auth/app-credential.js';
import { createAppCredential } from '../auth/create-app-credential.js';
import { forgetPolicyStore } from '../auth/resolve-caller.js';
import { TokenProvider } from '../auth/token-provider.js';
import { loadConfig, type ExosendConfig } from '../config/load-config.js';
import { MailSender } from '../pipeline/mail-sender.js';
import { trackEvent } from '../telemetry/telemetry.js';
import type { MailboxBudget } from '../budget/budget.js';
import type { GraphClient } from '../transport/graph-client.js';
import type { TransportSwitch } from '../transport/auto-transport.js';
import { createMailTransports } from '../transport/create-transports.js';
import type { MailTransport } from '../transport/mail-transport.js';

/** What a warm worker keeps between invocations, so that it pays for none of it twice. */
export interface Runtime {
  config: ExosendConfig;
  /** The app's credential (EXOSEND_CREDENTIAL), with its vault read cached for the worker's life. */
  credential: AppCredential;
  tokens: TokenProvider;
  /** The Microsoft Graph token cache, when EXOSEND_TRANSPORT is graph or auto. */
  graphTokens: TokenProvider | undefined;
  /** The Microsoft Graph client and the app's Graph request leases, when EXOSEND_TRANSPORT is graph or auto. */
  graph: GraphClient | undefined;
  graphConcurrency: MailboxBudget | undefined;
  /** The default mailbox's transport (EXOSEND_MAILBOX). */
  transport: MailTransport;
  /** One transport, with its own sessions and budget, per mailbox exosend authenticates as. */
  transports: ReadonlyMap<string, MailTransport>;
  sender: MailSender;
}

export function createRuntime(config: ExosendConfig): Runtime {
  const credential = createAppCredential(config);
  const tokens = new TokenProvider(credential, { expect: config });
  const { transports, graphTokens, graph, graphConcurrency } = createMailTransports(config, credential, tokens, {
    onSwitch: reportSwitch,
  });
  const transport = transports.get(config.mailbox)!;
  // the token the transport needs is checked up front; `auto` asks for each when it needs it
  const upFront = config.transport === 'smtp' ? tokens : config.transport === 'graph' ? graphTokens : undefined;
  return {
    config,
    credential,
    tokens,
    graphTokens,
    graph,
    graphConcurrency,
    transport,
    transports,
    sender: new MailSender(config.mailbox, upFront, transports),
  };
}

/**
 * An `auto` mailbox changed its way out: a warning in the worker's log (the host keeps console
 * output as traces) and the custom event `exosend.transport-switch`. Mailbox and code only.
 */
function reportSwitch(change: TransportSwitch): void {
  console.warn(JSON.stringify({ event: 'exosend.transport-switch', ...change }));
  trackEvent('exosend.transport-switch', {
    mailbox: change.mailbox,
    from: change.from,
    to: change.to,
    code: change.code,
  });
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
  // the caller policies too: a sandbox scenario that changes them is seen at once, not 30 s later
  forgetPolicyStore();
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
