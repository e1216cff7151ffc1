import { ClientSecretAppCredential } from '../auth/client-secret-credential.js';
import { SecretSource, type ClientSecret } from '../auth/secret-source.js';
import { TokenProvider } from '../auth/token-provider.js';
import type { ExosendConfig } from '../config.js';
import { diagnose } from '../diagnosis/catalogue.js';
import { runProbe, type ProbeReport, type StageResult } from '../probe/probe.js';
import { chainNotes, fromCheck, secretWarnings } from './doctor-notes.js';
import type { Redactor } from './doctor-redactor.js';
import type { DoctorClaims, DoctorReport, DoctorStageResult } from './doctor-report.js';

export interface ChainOptions {
  to?: string;
  from?: string;
  /** A client secret from the environment, used instead of the vault's (--client-secret-from-env). */
  secret?: { variable: string; value: string };
}

export type ChainReport = Omit<DoctorReport, 'problems' | 'settingsFromFile'>;

/**
 * The network stages, through the same secret seam, token cache and probe as the app's own sends;
 * each stage goes to `emit` as soon as it is known.
 */
export async function runChain(
  config: ExosendConfig,
  options: ChainOptions,
  emit: (result: DoctorStageResult) => void,
  redactor: Redactor,
): Promise<ChainReport> {
  let secret: ClientSecret | undefined;
  const remember = (s: ClientSecret) => {
    redactor.add(s.value);
    secret = s;
    return s;
  };
  const source = options.secret ? fixedSecret(options.secret.value) : new SecretSource(config);
  const secrets: SecretSeam = {
    get: async () => remember(await source.get()),
    refresh: async (stale) => remember(await source.refresh(stale)),
  };
  const tokens = new TokenProvider(new ClientSecretAppCredential(config, secrets), { expect: config });
  const from = options.from ?? config.mailbox;
  const notes = chainNotes(config, options.to, from);
  const stages: DoctorStageResult[] = [];
  const record = (result: DoctorStageResult) => {
    stages.push(result);
    emit(result);
  };

  const onStage = ({ stage, ok, durationMs }: StageResult) => {
    if (!ok) return; // recorded below, once the diagnosis decides which step it belongs to
    if (stage === 'vault' && options.secret) {
      return record({ stage, ok, durationMs: 0, skipped: `the client secret comes from $${options.secret.variable} (--client-secret-from-env)` });
    }
    const token = tokens.peek();
    redactor.add(token?.token);
    const note = stage === 'vault' ? notes.vault(secret?.expiresOn) : stage === 'claims' ? notes.claims(token) : notes[stage];
    record({ stage, ok, durationMs, ...(note ? { note } : {}) });
  };
  const report = await runProbe(
    { config, secrets, tokens },
    { ...(options.to ? { to: options.to } : {}), from, subject: (runId) => `exosend doctor: test message (run ${runId})`, onStage },
  );

  const failed = report.stages.find((s) => !s.ok);
  const d = report.diagnosis;
  if (failed && d) {
    const sendAsDenied = failed.stage === 'send' && d.code === 'SEND_AS_DENIED' && from !== config.mailbox;
    record({ stage: sendAsDenied ? 'from' : failed.stage, ok: false, durationMs: failed.durationMs });
  } else {
    if (!options.to) record({ stage: 'send', ok: true, durationMs: 0, skipped: 'no --to ADDRESS, so nothing was sent' });
    record(fromCheck(config.mailbox, from, options.to !== undefined));
  }
  const { scope, keyVaultUrl: vaultUrl, clientSecretName: secretName, tenantId, clientId, mailbox } = config;
  const context = { tenantId, clientId, mailbox, from, vaultUrl, secretName, scope };
  return {
    ok: report.ok,
    stages,
    // filled in again with all the doctor knows, the vault and the scope too
    ...(d ? { diagnosis: diagnose(d.code, context, { smtp: d.smtp, stage: d.stage, retryAfterSeconds: d.retryAfterSeconds }) } : {}),
    ...(report.token ? { claims: claimsOf(report.token) } : {}),
    warnings: [...(report.token?.warnings ?? []), ...secretWarnings({ expiresOn: report.secretExpiresOn, clientId, failure: d?.code, fromEnvironment: options.secret !== undefined })],
    ...(report.secretExpiresOn ? { secretExpiresOn: report.secretExpiresOn.toISOString() } : {}),
    ...(report.messageId ? { messageId: report.messageId } : {}),
  };
}

type SecretSeam = Pick<SecretSource, 'get' | 'refresh'>;

/** A secret typed in by the admin: nothing to read, nothing to refresh, no expiry known. */
function fixedSecret(value: string): SecretSeam {
  const secret: ClientSecret = { value, expiresOn: undefined };
  return { get: async () => secret, refresh: async () => secret };
}

function claimsOf({ claims, expiresOnTimestamp }: NonNullable<ProbeReport['token']>): DoctorClaims {
  const expiresOn = new Date(claims.exp !== undefined ? claims.exp * 1000 : expiresOnTimestamp).toISOString();
  return { aud: claims.aud, roles: claims.roles, appId: claims.appId, tid: claims.tid, expiresOn };
}
