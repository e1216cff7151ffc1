import { randomUUID } from 'node:crypto';
import type { AppCredential, CredentialState } from '../auth/app-credential.js';
import type { AppToken, TokenProvider } from '../auth/token-provider.js';
import type { Diagnosis, Stage } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';

/** One stage of the chain; `connect` covers TCP, the greeting and STARTTLS (a TLS failure is stage `tls`). */
export interface StageResult {
  stage: Stage;
  ok: boolean;
  durationMs: number;
}

export interface ProbeReport {
  ok: boolean;
  runId: string;
  stages: StageResult[];
  diagnosis?: Diagnosis;
  token?: Pick<AppToken, 'claims' | 'warnings' | 'expiresOnTimestamp'>;
  /** What the credential said of itself: its kind, and when it expires (a secret's vault expiry, a certificate's notAfter). */
  credential?: CredentialState;
  /** The Message-ID of the test message, when one was sent. */
  messageId?: string;
  response?: string;
}

export interface ProbeOptions {
  /** Send a small test message here; without it the probe stops after AUTH and quits politely. */
  to?: string;
  /** The From of the test message: the mailbox when unset. */
  from?: string;
  subject?: (runId: string) => string;
  /** Called as each stage's result is recorded, so a caller can show progress while the chain runs. */
  onStage?: (result: StageResult) => void;
  /** 'claims': stop once the token's claims pass, without opening an SMTP connection (a preflight). */
  stopAfter?: 'claims';
}

/** Runs one stage and times it; a failure is recorded (with its diagnosis) and ends the chain there. */
export type TimedStage = <T>(stage: Stage, work: () => Promise<T>) => Promise<T>;

/** The test message a way sent: its Message-ID and what the server answered. */
export interface SentTestMessage {
  messageId: string;
  response: string;
}

/** What one way of sending (SMTP, Graph) adds to the chain every way shares. */
export interface ProbeWay {
  credential: Pick<AppCredential, 'kind' | 'prepare'>;
  /** The token cache this way's real sends use: the probe asks the same one. */
  tokens: TokenProvider;
  /** What a failure this way met means (a DeliveryFailed carries its own diagnosis). */
  classify(error: unknown): Diagnosis;
  /** The stages after the token's claims passed, each run through `timed`; the test message, when one was sent. */
  afterClaims(token: AppToken, timed: TimedStage, runId: string): Promise<SentTestMessage | undefined>;
  /** The chain stopped at a failed stage (SMTP closes its connection). */
  stopped?(): void;
  /** Last, however the chain ended (a lease given back). */
  finished?(): void;
}

/**
 * The chain every way starts with: the vault's secret or certificate (a federated credential
 * reads no vault: its first stage is the token), a token from the same cache as real sends, and its
 * claims; then the way's own stages. It stops at the first failure and says which stage and why.
 */
export async function runProbeChain(way: ProbeWay, onStage?: (result: StageResult) => void): Promise<ProbeReport> {
  const report: ProbeReport = { ok: false, runId: randomUUID(), stages: [] };
  const record = (result: StageResult) => {
    report.stages.push(result);
    onStage?.(result);
  };
  const timed: TimedStage = async (stage, work) => {
    const started = performance.now();
    try {
      const result = await work();
      record({ stage, ok: true, durationMs: elapsed(started) });
      return result;
    } catch (error) {
      const diagnosis = error instanceof DeliveryFailed ? error.diagnosis : way.classify(error);
      const durationMs = elapsed(started);
      // a step can fail in the stage after its own (a token whose claims fail, a connection whose
      // TLS fails): its own stage passed, the later one is the one to fix
      const failed = stageOrder.indexOf(diagnosis.stage) > stageOrder.indexOf(stage) ? diagnosis.stage : stage;
      if (failed !== stage) record({ stage, ok: true, durationMs });
      report.diagnosis = diagnosis;
      record({ stage: failed, ok: false, durationMs: failed === stage ? durationMs : 0 });
      throw new ProbeStopped();
    }
  };

  try {
    const { kind } = way.credential;
    report.credential =
      kind === 'federated' ? await way.credential.prepare() : await timed('vault', () => way.credential.prepare());
    if (kind === 'certificate') record({ stage: 'certificate', ok: true, durationMs: 0 });
    const token = await timed('token', () => way.tokens.getToken());
    report.token = { claims: token.claims, warnings: token.warnings, expiresOnTimestamp: token.expiresOnTimestamp };
    record({ stage: 'claims', ok: true, durationMs: 0 });
    const sent = await way.afterClaims(token, timed, report.runId);
    if (sent) {
      report.messageId = sent.messageId;
      report.response = sent.response;
    }
    report.ok = true;
  } catch (error) {
    if (!(error instanceof ProbeStopped)) throw error;
    way.stopped?.();
  } finally {
    way.finished?.();
  }
  return report;
}

/**
 * The small test message a probe sends: a Message-ID that carries the run id, and a text that says
 * which way it checks (`through`: Exchange Online, Microsoft Graph).
 */
export function testMessage(mailbox: string, options: ProbeOptions, runId: string, through: string) {
  return {
    from: options.from ?? mailbox,
    to: options.to,
    subject: options.subject?.(runId) ?? `exosend test message ${runId}`,
    text: `This is a test message from exosend (run ${runId}). It checks that this app can send through ${through}; no action is needed.`,
    messageId: `<exosend-probe.${runId}@${mailbox.slice(mailbox.indexOf('@') + 1)}>`,
  };
}

class ProbeStopped extends Error {}

const stageOrder: readonly Stage[] = ['vault', 'certificate', 'token', 'claims', 'connect', 'tls', 'auth', 'send'];

const elapsed = (started: number) => Math.round((performance.now() - started) * 10) / 10;
