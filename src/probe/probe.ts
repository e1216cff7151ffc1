import MailComposer from 'nodemailer/lib/mail-composer';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import XOAuth2 from 'nodemailer/lib/xoauth2';
import type { AppCredential } from '../auth/app-credential.js';
import type { AppToken, TokenProvider } from '../auth/token-provider.js';
import type { ExosendConfig } from '../config/load-config.js';
import { classifySmtpError } from '../diagnosis/classify.js';
import { runProbeChain, testMessage, type ProbeOptions, type ProbeReport, type TimedStage } from './probe-chain.js';

export type { ProbeOptions, ProbeReport, StageResult } from './probe-chain.js';

export interface ProbeParts {
  config: Pick<ExosendConfig, 'smtp' | 'mailbox' | 'tenantId' | 'clientId'>;
  credential: Pick<AppCredential, 'kind' | 'prepare'>;
  tokens: TokenProvider;
  /** A lease on one of the mailbox's sessions, taken before the probe connects (the health check's own). */
  connectionLease?: () => Promise<{ release(): void } | undefined>;
}

/**
 * Walks the chain a send takes, one stage at a time, timing each: the vault's secret or
 * certificate (and the certificate's dates), a token (from the
 * same cache as real sends), its claims (those three shared with Graph's: probe-chain.ts), an SMTP
 * session with STARTTLS, AUTH XOAUTH2 and, optionally, a test message. It stops at the first
 * failure and says which stage and why.
 */
export async function runProbe(parts: ProbeParts, options: ProbeOptions = {}): Promise<ProbeReport> {
  const { config } = parts;
  const connection = new SMTPConnection({
    host: config.smtp.host,
    port: config.smtp.port,
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

  const afterClaims = async (token: AppToken, timed: TimedStage, runId: string) => {
    if (options.stopAfter === 'claims') return undefined;
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
      smtpStage(() => login(connection, config.mailbox, token, parts.tokens)),
    );
    const sent = options.to
      ? await timed(
          'send',
          smtpStage(() => sendTestMessage(connection, config.mailbox, options, runId)),
        )
      : undefined;
    connection.quit();
    return sent;
  };

  return await runProbeChain(
    {
      credential: parts.credential,
      tokens: parts.tokens,
      classify: (error) =>
        classifySmtpError(error, {
          mailbox: config.mailbox,
          tenantId: config.tenantId,
          clientId: config.clientId,
          from: options.from ?? config.mailbox,
        }),
      afterClaims,
      stopped: () => connection.close(),
      finished: () => {
        // after the connection is told to end: a session must never outlive its lease
        const held = lease;
        if (held) setTimeout(() => held.release(), 500).unref();
      },
    },
    options.onStage,
  );
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
  const message = testMessage(mailbox, options, runId, 'Exchange Online');
  return new Promise<{ messageId: string; response: string }>((resolve, reject) => {
    new MailComposer(message).compile().build((buildError, raw) => {
      if (buildError) return reject(buildError);
      connection.send({ from: message.from, to: [options.to!] }, raw, (error, info) =>
        error ? reject(error) : resolve({ messageId: message.messageId, response: info.response ?? '' }),
      );
    });
  });
}
