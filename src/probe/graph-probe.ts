import { randomUUID } from 'node:crypto';
import type { AppCredential } from '../auth/app-credential.js';
import type { TokenProvider } from '../auth/token-provider.js';
import type { ExosendConfig } from '../config/load-config.js';
import { classifyGraphOutcome } from '../diagnosis/classify.js';
import type { Diagnosis, Stage } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import { composeMime } from '../mail/mime.js';
import { GraphError, type GraphClient } from '../transport/graph-client.js';
import type { ProbeOptions, ProbeReport, StageResult } from './probe.js';

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
  const report: ProbeReport = { ok: false, runId: randomUUID(), stages: [] };
  const record = (result: StageResult) => {
    report.stages.push(result);
    options.onStage?.(result);
  };
  const timed = async <T>(stage: Stage, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const result = await work();
      record({ stage, ok: true, durationMs: elapsed(started) });
      return result;
    } catch (error) {
      const diagnosis = diagnosisOf(error, parts, options.from);
      // a token whose claims fail passed its own stage: the claims are the one to fix
      const failed = stageOrder.indexOf(diagnosis.stage) > stageOrder.indexOf(stage) ? diagnosis.stage : stage;
      if (failed !== stage) record({ stage, ok: true, durationMs: elapsed(started) });
      report.diagnosis = diagnosis;
      record({ stage: failed, ok: false, durationMs: failed === stage ? elapsed(started) : 0 });
      throw new ProbeStopped();
    }
  };
  let lease: { release(): void } | undefined;
  try {
    const { kind } = parts.credential;
    report.credential =
      kind === 'federated' ? await parts.credential.prepare() : await timed('vault', () => parts.credential.prepare());
    if (kind === 'certificate') record({ stage: 'certificate', ok: true, durationMs: 0 });
    const token = await timed('token', () => parts.graphTokens.getToken());
    report.token = { claims: token.claims, warnings: token.warnings, expiresOnTimestamp: token.expiresOnTimestamp };
    record({ stage: 'claims', ok: true, durationMs: 0 });
    if (options.to) {
      lease = await parts.requestLease?.();
      const sent = await timed('send', () => sendTestMessage(parts, options, report.runId));
      report.messageId = sent.messageId;
      report.response = sent.response;
    }
    report.ok = true;
  } catch (error) {
    if (!(error instanceof ProbeStopped)) throw error;
  } finally {
    lease?.release();
  }
  return report;
}

class ProbeStopped extends Error {}

const stageOrder: readonly Stage[] = ['vault', 'certificate', 'token', 'claims', 'connect', 'tls', 'auth', 'send'];

const elapsed = (started: number) => Math.round((performance.now() - started) * 10) / 10;

function diagnosisOf(error: unknown, parts: GraphProbeParts, from?: string): Diagnosis {
  if (error instanceof DeliveryFailed) return error.diagnosis;
  const { mailbox, tenantId, clientId } = parts.config;
  const outcome =
    error instanceof GraphError
      ? error.outcome()
      : { noAnswer: 'unreachable' as const, detail: (error as Error)?.name ?? 'error' };
  return classifyGraphOutcome(outcome, { mailbox, tenantId, clientId, scope: parts.scope, from: from ?? mailbox });
}

/** The same small test message as over SMTP, as the base64 MIME sendMail takes (Content-Type text/plain). */
async function sendTestMessage(
  parts: GraphProbeParts,
  options: ProbeOptions,
  runId: string,
): Promise<{ messageId: string; response: string }> {
  const { mailbox } = parts.config;
  const messageId = `<exosend-probe.${runId}@${mailbox.slice(mailbox.indexOf('@') + 1)}>`;
  const subject = options.subject?.(runId) ?? `exosend test message ${runId}`;
  const text = `This is a test message from exosend (run ${runId}). It checks that this app can send through Microsoft Graph; no action is needed.`;
  const mail = await composeMime({ from: options.from ?? mailbox, to: options.to, subject, text, messageId });
  const response = await parts.graph.request({
    method: 'POST',
    path: `/v1.0/users/${encodeURIComponent(mailbox)}/sendMail`,
    contentType: 'text/plain',
    body: mail.raw.toString('base64'),
  });
  return { messageId, response: `${response.status} Accepted` };
}
