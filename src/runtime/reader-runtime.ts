import { graphScopeFor } from '../auth/graph-claims.js';
import { checkGraphReadClaims } from '../auth/graph-read-claims.js';
import { TokenProvider } from '../auth/token-provider.js';
import { loadDeliverySettings } from '../config/delivery-settings.js';
import type { ReaderDeps } from '../pipeline/read-delivery-reports.js';
import { OutcomeQueue } from '../queue/outcome-events.js';
import { InboxCursorStore } from '../storage/inbox-cursor-store.js';
import { GraphClient } from '../transport/graph-client.js';
import { GraphInbox } from '../transport/graph-inbox.js';
import { getQueueRuntime } from './queue-runtime.js';
import { getRuntime, type Runtime } from './runtime.js';

let current: { runtime: Runtime; deps: Promise<ReaderDeps> } | undefined;

/**
 * The delivery reports reader's parts, for as long as the send runtime lives: the queue path's
 * storage and stores, and a Graph client of its own whose token is checked for Mail.Read rather
 * than Mail.Send (a tenant may let exosend read its mailboxes through Graph and send by SMTP).
 * Same credential, same scope: one more token an hour, never a second vault read.
 */
export function getReaderRuntime(): Promise<ReaderDeps> {
  const runtime = getRuntime();
  if (current?.runtime === runtime) return current.deps;
  const deps = (async (): Promise<ReaderDeps> => {
    const { config, credential } = runtime;
    const settings = loadDeliverySettings();
    const { storage, store, deliveries, suppressions } = await getQueueRuntime();
    const tokens = new TokenProvider(credential, {
      expect: { ...config, scope: graphScopeFor(settings.graphEndpoint) },
      check: checkGraphReadClaims,
    });
    const client = new GraphClient({ endpoint: settings.graphEndpoint, tokens });
    return {
      mailboxes: config.mailboxes,
      inbox: new GraphInbox(client, settings.graphEndpoint),
      cursors: new InboxCursorStore(storage.inboxCursors),
      reports: { store, deliveries: deliveries!, suppressions: suppressions! },
      outcomes: new OutcomeQueue(storage.queue(settings.outcomesQueue)),
      horizonInMs: settings.horizonInMs,
      context: { tenantId: config.tenantId, clientId: config.clientId, scope: graphScopeFor(settings.graphEndpoint) },
    };
  })();
  current = { runtime, deps };
  deps.catch(() => {
    if (current?.deps === deps) current = undefined;
  });
  return deps;
}
