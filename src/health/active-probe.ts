import { graphScopeFor } from '../auth/graph-claims.js';
import type { AppCredential } from '../auth/app-credential.js';
import type { DiagnosisCode } from '../diagnosis/diagnosis.js';
import { runGraphProbe } from '../probe/graph-probe.js';
import { runProbe, type ProbeOptions, type ProbeReport } from '../probe/probe.js';
import { AutoTransport, smtpClosedBy } from '../transport/auto-transport.js';
import type { MailTransport } from '../transport/mail-transport.js';
import type { HealthRuntime } from './health-runtime.js';

/** The way a mailbox's messages leave now. */
export type Way = 'smtp' | 'graph';

/** What the active transport's check found, and which way it took. */
export interface ActiveProbe {
  report: ProbeReport;
  transport: Way;
  /** `auto` only: SMTP was closed to the mailbox (this code), so the check went on through Graph, as a send would. */
  smtpClosed?: DiagnosisCode;
}

/** EXOSEND_TRANSPORT=graph is Graph; `auto` is the way the mailbox uses at the moment (SMTP until Exchange closes it). */
export function wayOf(transport: MailTransport | undefined): Way {
  if (transport instanceof AutoTransport) return transport.current;
  return transport?.kind === 'graph' ? 'graph' : 'smtp';
}

export interface ActiveProbeOptions extends ProbeOptions {
  /** The credential to prepare (the health check re-reads the vault hourly); the runtime's otherwise. */
  credential?: Pick<AppCredential, 'kind' | 'prepare'>;
  /** The check's own lease: a session on SMTP, a request slot on Graph. */
  lease?: (way: Way) => Promise<{ release(): void } | undefined>;
}

/**
 * Checks the mailbox the way its messages go now: SMTP's chain (token for Exchange, STARTTLS,
 * AUTH, a test send), or Graph's (token for Graph with Mail.Send unless rbac, a test send through
 * sendMail). Under `auto`, an SMTP check that meets the refusals that move a send to Graph (SMTP
 * AUTH disabled, the endpoint unreachable: auto-transport.ts, smtpClosedBy) goes on through Graph,
 * so that a tenant with SMTP AUTH off is healthy when Graph carries its mail.
 */
export async function probeActiveTransport(
  runtime: HealthRuntime,
  mailbox: string,
  options: ActiveProbeOptions = {},
): Promise<ActiveProbe> {
  const transport = runtime.transports.get(mailbox);
  const way = wayOf(transport);
  const report = await probeByWay(runtime, mailbox, way, options);
  const closed =
    transport instanceof AutoTransport && way === 'smtp' && report.diagnosis
      ? smtpClosedBy(report.diagnosis)
      : undefined;
  if (!closed) return { report, transport: way };
  return {
    report: await probeByWay(runtime, mailbox, 'graph', options),
    transport: 'graph',
    smtpClosed: closed as DiagnosisCode,
  };
}

/** One way's chain for the mailbox; Graph's falls back to SMTP's only where the runtime has no Graph (EXOSEND_TRANSPORT=smtp). */
export function probeByWay(
  runtime: HealthRuntime,
  mailbox: string,
  way: Way,
  options: ActiveProbeOptions = {},
): Promise<ProbeReport> {
  const { credential = runtime.credential, lease, ...probeOptions } = options;
  const { graphTokens, graph } = runtime;
  if (way === 'graph' && graphTokens && graph) {
    const { stopAfter: _stopAfter, ...graphOptions } = probeOptions;
    const parts = {
      config: { ...runtime.config, mailbox },
      credential,
      graphTokens,
      graph,
      scope: graphScopeFor(runtime.config.graphEndpoint),
    };
    return runGraphProbe({ ...parts, ...(lease && { requestLease: () => lease('graph') }) }, graphOptions);
  }
  return runProbe(
    {
      ...runtime,
      config: { ...runtime.config, mailbox },
      credential,
      ...(lease && { connectionLease: () => lease('smtp') }),
    },
    probeOptions,
  );
}
