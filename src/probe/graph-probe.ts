import type { AppCredential } from '../auth/app-credential.js';
import type { TokenProvider } from '../auth/token-provider.js';
import type { ExosendConfig } from '../config/load-config.js';
import { classifyGraphOutcome } from '../diagnosis/classify.js';
import { composeMime } from '../mail/mime.js';
import { GraphError, type GraphClient } from '../transport/graph-client.js';
import {
  runProbeChain,
  testMessage,
  type ProbeOptions,
  type ProbeReport,
  type SentTestMessage,
} from './probe-chain.js';

export interface GraphProbeParts {
  config: Pick<ExosendConfig, 'mailbox' | 'tenantId' | 'clientId'>;
  credential: Pick<AppCredential, 'kind' | 'prepare'>;
  /** The Graph token cache (scope graphScopeFor(EXOSEND_GRAPH_ENDPOINT)): its check requires Mail.Send unless rbac. */
  graphTokens: TokenProvider;
  graph: GraphClient;
  /** The Graph token's scope, for a diagnosis that names it. */
  scope: string;
  /** One of the app's Graph request leases, taken before the test send (the check's own). */
  requestLease?: () => Promise<{ release(): void } | undefined>;
}

/**
 * The chain a send through Microsoft Graph takes, stage by stage: the vault's secret or
 * certificate, a Graph token from the same cache as real sends, its claims (Mail.Send unless
 * rbac), and with a recipient a small test message through `POST /users/{mailbox}/sendMail`.
 * Graph has no session to open and no AUTH of its own: without a recipient the check stops after
 * the claims, as nothing short of a send shows whether Graph lets the app reach the mailbox
 * (Mail.Send alone gives no read access to test it with).
 */
export async function runGraphProbe(
  parts: GraphProbeParts,
  options: Omit<ProbeOptions, 'stopAfter'> = {},
): Promise<ProbeReport> {
  const { mailbox, tenantId, clientId } = parts.config;
  let lease: { release(): void } | undefined;
  return await runProbeChain(
    {
      credential: parts.credential,
      tokens: parts.graphTokens,
      classify: (error) => {
        const outcome =
          error instanceof GraphError
            ? error.outcome()
            : { noAnswer: 'unreachable' as const, detail: (error as Error)?.name ?? 'error' };
        return classifyGraphOutcome(outcome, {
          mailbox,
          tenantId,
          clientId,
          scope: parts.scope,
          from: options.from ?? mailbox,
        });
      },
      afterClaims: async (_token, timed, runId) => {
        if (!options.to) return undefined;
        lease = await parts.requestLease?.();
        return await timed('send', () => sendTestMessage(parts, options, runId));
      },
      finished: () => lease?.release(),
    },
    options.onStage,
  );
}

/** The same small test message as over SMTP, as the base64 MIME sendMail takes (Content-Type text/plain). */
async function sendTestMessage(parts: GraphProbeParts, options: ProbeOptions, runId: string): Promise<SentTestMessage> {
  const { mailbox } = parts.config;
  const message = testMessage(mailbox, options, runId, 'Microsoft Graph');
  const mail = await composeMime(message);
  const response = await parts.graph.request({
    method: 'POST',
    path: `/v1.0/users/${encodeURIComponent(mailbox)}/sendMail`,
    contentType: 'text/plain',
    body: mail.raw.toString('base64'),
  });
  return { messageId: message.messageId, response: `${response.status} Accepted` };
}
