import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import XOAuth2 from 'nodemailer/lib/xoauth2';
import type { AppCredential, CredentialState } from '../auth/app-credential.js';
import type { AppToken, TokenProvider } from '../auth/token-provider.js';
import type { ExosendConfig } from '../config/load-config.js';
import { classifySmtpError } from '../diagnosis/classify.js';
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

export interface ProbeParts {
  config: Pick<ExosendConfig, 'smtp' | 'mailbox' | 'tenantId' | 'clientId'>;
  credential: Pick<AppCredential, 'kind' | 'prepare'>;
  tokens: TokenProvider;
  /** A lease on one of the mailbox's sessions, taken before the probe connects (the health check's own). */
  connectionLease?: () => Promise<{ release(): void } | undefined>;
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

/**
 * Walks the chain a send takes, one stage at a time, timing each: the vault's secret or
 * certificate (and the certificate's dates), a token (from the
 * same cache as real sends), its claims, an SMTP session with STARTTLS, AUTH XOAUTH2 and,
 * optionally, a test message. It stops at the first failure and says which stage and why.
 */
export async function runProbe(parts: ProbeParts, options: ProbeOptions = {}): Promise<ProbeReport> {
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
      const diagnosis = diagnosisOf(error, parts.config, options.from);
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

  const connection = new SMTPConnection({
    host: parts.config.smtp.host,
    port: parts.config.smtp.port,
    secure: false,
    requireTLS: true,
    tls: { minVersion: 'TLSv1.2' },
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
  // nodemailer reports a refused connection, a timeout, a missing STARTTLS or a refusing greeting
  // only through this event, never through connect's callback: each SMTP stage races it
  // (`on`, not `once`: a second error without a listener would crash the process)
  const failed = new Promise<never>((_, reject) => connection.on('error', reject));
  failed.catch(() => undefined);
  const smtpStage =
    <T>(work: () => Promise<T>) =>
    () =>
      Promise.race([work(), failed]);
  let lease: { release(): void } | undefined;
  try {
    // a federated credential reads no vault: its first stage is the token
    const { kind } = parts.credential;
    report.credential =
      kind === 'federated' ? await parts.credential.prepare() : await timed('vault', () => parts.credential.prepare());
    if (kind === 'certificate') record({ stage: 'certificate', ok: true, durationMs: 0 });
    const token = await timed('token', () => parts.tokens.getToken());
    report.token = { claims: token.claims, warnings: token.warnings, expiresOnTimestamp: token.expiresOnTimestamp };
    record({ stage: 'claims', ok: true, durationMs: 0 });
    if (options.stopAfter === 'claims') {
      report.ok = true;
      return report;
    }
    lease = await parts.connectionLease?.();
    await timed(
      'connect',
      smtpStage(
        () =>
          new Promise<void>((resolve, reject) => connection.connect((e?: Error | null) => (e ? reject(e) : resolve()))),
      ),
    );
    await timed(
      'auth',
      smtpStage(() => login(connection, parts.config.mailbox, token, parts.tokens)),
    );
    if (options.to) {
      const sent = await timed(
        'send',
        smtpStage(() => sendTestMessage(connection, parts.config.mailbox, options, report.runId)),
      );
      report.messageId = sent.messageId;
      report.response = sent.response;
    }
    connection.quit();
    report.ok = true;
  } catch (error) {
    if (!(error instanceof ProbeStopped)) throw error;
    connection.close();
  } finally {
    // after the connection is told to end: a session must never outlive its lease
    const held = lease;
    if (held) setTimeout(() => held.release(), 500).unref();
  }
  return report;
}

class ProbeStopped extends Error {}

const stageOrder: readonly Stage[] = ['vault', 'certificate', 'token', 'claims', 'connect', 'tls', 'auth', 'send'];

const elapsed = (started: number) => Math.round((performance.now() - started) * 10) / 10;

function diagnosisOf(error: unknown, config: ProbeParts['config'], from?: string): Diagnosis {
  if (error instanceof DeliveryFailed) return error.diagnosis;
  return classifySmtpError(error, {
    mailbox: config.mailbox,
    tenantId: config.tenantId,
    clientId: config.clientId,
    from: from ?? config.mailbox,
  });
}

function login(connection: SMTPConnection, mailbox: string, token: AppToken, tokens: TokenProvider): Promise<void> {
  const oauth2 = new XOAuth2({ user: mailbox, accessToken: token.token });
  return new Promise((resolve, reject) =>
    connection.login({ user: mailbox, oauth2, method: 'XOAUTH2' }, (error) => {
      if (!error) return resolve();
      // a token Exchange refused must not be handed to the next real send
      tokens.invalidate(token.token);
      reject(error);
    }),
  );
}

function sendTestMessage(connection: SMTPConnection, mailbox: string, options: ProbeOptions, runId: string) {
  const from = options.from ?? mailbox;
  const messageId = `<exosend-probe.${runId}@${mailbox.slice(mailbox.indexOf('@') + 1)}>`;
  const subject = options.subject?.(runId) ?? `exosend test message ${runId}`;
  const text = `This is a test message from exosend (run ${runId}). It checks that this app can send through Exchange Online; no action is needed.`;
  return new Promise<{ messageId: string; response: string }>((resolve, reject) => {
    new MailComposer({ from, to: options.to, subject, text, messageId }).compile().build((buildError, raw) => {
      if (buildError) return reject(buildError);
      connection.send({ from, to: [options.to!] }, raw, (error, info) =>
        error ? reject(error) : resolve({ messageId, response: info.response ?? '' }),
      );
    });
  });
}
