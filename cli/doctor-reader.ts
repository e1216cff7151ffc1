import type { AppCredential } from '../src/auth/app-credential.js';
import { graphScopeFor } from '../src/auth/graph-claims.js';
import { checkGraphReadClaims } from '../src/auth/graph-read-claims.js';
import { TokenProvider } from '../src/auth/token-provider.js';
import { loadDeliverySettings } from '../src/config/delivery-settings.js';
import type { ExosendConfig } from '../src/config/load-config.js';
import { classifyReaderOutcome } from '../src/diagnosis/classify-reader.js';
import type { Diagnosis } from '../src/diagnosis/diagnosis.js';
import { DeliveryFailed } from '../src/diagnosis/failures.js';
import { GraphClient, GraphError } from '../src/transport/graph-client.js';
import { GraphInbox } from '../src/transport/graph-inbox.js';
import type { Redactor } from './doctor-redactor.js';

/** What the doctor found of the delivery reports reader: its permission on each sending mailbox's Inbox. */
export interface ReaderVerdict {
  ok: boolean;
  note: string;
  diagnosis?: Diagnosis;
}

/**
 * The reader's permission, tried as the reader would: a Graph token checked for Mail.Read (in
 * `entra` mode), then the first page of each sending mailbox's Inbox delta, one message long and
 * from now on, so nothing is read but the check itself. Sending does not depend on it: a refusal
 * is a warning with READER_ACCESS_DENIED's fix, and the exit code stays the chain's.
 */
export async function checkReader(
  config: ExosendConfig,
  credential: AppCredential,
  redactor: Redactor,
): Promise<ReaderVerdict> {
  let endpoint: string;
  try {
    const settings = loadDeliverySettings();
    if (settings.tracking === 'off') return { ok: true, note: 'not checked: EXOSEND_DELIVERY_TRACKING=off' };
    endpoint = settings.graphEndpoint;
  } catch {
    return { ok: true, note: 'not checked: the delivery tracking settings do not parse (the app names them)' };
  }
  const scope = graphScopeFor(endpoint);
  const tokens = new TokenProvider(credential, { expect: { ...config, scope }, check: checkGraphReadClaims });
  const inbox = new GraphInbox(new GraphClient({ endpoint, tokens, timeoutInMs: 30_000 }), endpoint, 1);
  for (const mailbox of config.mailboxes) {
    try {
      await inbox.page(inbox.firstPath(mailbox, new Date()));
    } catch (error) {
      const diagnosis =
        error instanceof GraphError
          ? classifyReaderOutcome(error.outcome(), {
              tenantId: config.tenantId,
              clientId: config.clientId,
              mailbox,
              scope,
            })
          : error instanceof DeliveryFailed
            ? error.diagnosis
            : undefined;
      if (!diagnosis) throw error;
      return { ok: false, note: `${mailbox}: ${diagnosis.code}`, diagnosis };
    } finally {
      redactor.add(tokens.peek()?.token);
    }
  }
  return { ok: true, note: `Mail.Read on the Inbox of ${config.mailboxes.join(', ')} (Microsoft Graph)` };
}
