import type { AppCredential } from '../src/auth/app-credential.js';
import { ClientSecretAppCredential, type SecretSeam } from '../src/auth/client-secret-credential.js';
import { createAppCredential } from '../src/auth/create-app-credential.js';
import type { ClientSecret } from '../src/auth/secret-source.js';
import { TokenProvider } from '../src/auth/token-provider.js';
import type { ExosendConfig } from '../src/config/load-config.js';
import { diagnose } from '../src/diagnosis/diagnose.js';
import type { DiagnosisCode } from '../src/diagnosis/diagnosis.js';
import { runGraphProbe } from '../src/probe/graph-probe.js';
import { runProbe, type ProbeReport, type StageResult } from '../src/probe/probe.js';
import { smtpClosedBy } from '../src/transport/auto-transport.js';
import { doctorGraph, graphWayOut } from './doctor-graph.js';
import {
  chainNotes,
  credentialWarnings,
  fromCheck,
  managedIdentityHere,
  untestableFederation,
} from './doctor-notes.js';
import { checkReader } from './doctor-reader.js';
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
 * The network stages, through the same credential seam, token cache and probe as the app's own
 * sends; each stage goes to `emit` as soon as it is known.
 */
export async function runChain(
  config: ExosendConfig,
  options: ChainOptions,
  emit: (result: DoctorStageResult) => void,
  redactor: Redactor,
): Promise<ChainReport> {
  const stages: DoctorStageResult[] = [];
  const record = (result: DoctorStageResult) => {
    stages.push(result);
    emit(result);
  };
  // no managed identity on a laptop: a federated credential cannot be tried at all, and saying so beats a timeout
  if (config.credential === 'federated' && !managedIdentityHere()) {
    const skipped = untestableFederation(config);
    for (const stage of ['token', 'claims', 'connect', 'auth', 'send'] as const)
      record({ stage, ok: true, durationMs: 0, skipped: stage === 'token' ? skipped : 'no token to try it with' });
    return { ok: true, stages, credential: 'federated', warnings: [skipped] };
  }

  const remember = (s: ClientSecret) => {
    // the value as a whole, and each line of a PEM: a private key must not leave, whole or in part
    redactor.add(s.value);
    s.value.split(/\r?\n/).forEach((line) => redactor.add(line));
    return s;
  };
  const watched = (seam: SecretSeam): SecretSeam => ({
    get: async (o) => remember(await seam.get(o)),
    refresh: async (stale) => remember(await seam.refresh(stale)),
  });
  const credential: AppCredential = options.secret
    ? new ClientSecretAppCredential(config, fixedSecret(options.secret.value))
    : createAppCredential(config, watched);
  const tokens = new TokenProvider(credential, { expect: config });
  // Graph's token cache and client, as a Graph send has them: nothing is asked of Entra until used
  const graph = doctorGraph(config, credential);
  let way: 'smtp' | 'graph' = config.transport === 'graph' ? 'graph' : 'smtp';
  const from = options.from ?? config.mailbox;
  const notesOf = (w: typeof way) =>
    chainNotes(w === 'graph' ? { ...config, scope: graph.scope } : config, options.to, from, w === 'graph');
  let notes = notesOf(way);

  // the probe's report is not back yet while its stages run: the credential's state is caught here
  let currentState: ProbeReport['credential'];
  const probeCredential = { kind: credential.kind, prepare: async () => (currentState = await credential.prepare()) };
  const onStage = ({ stage, ok, durationMs }: StageResult) => {
    if (!ok) return; // recorded below, once the diagnosis decides which step it belongs to
    if (stage === 'vault' && options.secret) {
      return record({
        stage,
        ok,
        durationMs: 0,
        skipped: `the client secret comes from $${options.secret.variable} (--client-secret-from-env)`,
      });
    }
    const token = (way === 'graph' ? graph.tokens : tokens).peek();
    redactor.add(token?.token);
    const note = notes.of(stage, { credential: currentState, token });
    record({ stage, ok, durationMs, ...(note ? { note } : {}) });
  };
  const probeOptions = {
    ...(options.to ? { to: options.to } : {}),
    from,
    subject: (runId: string) => `exosend doctor: test message (run ${runId})`,
    onStage,
  };
  const viaGraph = () =>
    runGraphProbe(
      { config, credential: probeCredential, graphTokens: graph.tokens, graph: graph.client, scope: graph.scope },
      probeOptions,
    );
  let report =
    way === 'graph' ? await viaGraph() : await runProbe({ config, credential: probeCredential, tokens }, probeOptions);
  // EXOSEND_TRANSPORT=auto: where Exchange closes SMTP, a send goes on through Graph (auto-transport.ts), and so does the doctor
  const closed = config.transport === 'auto' && report.diagnosis ? smtpClosedBy(report.diagnosis) : undefined;
  if (closed) {
    record({
      stage: 'graph',
      ok: true,
      durationMs: 0,
      advice: `SMTP is closed to ${config.mailbox} (${closed}): under EXOSEND_TRANSPORT=auto its mail goes through Microsoft Graph, checked next.`,
    });
    way = 'graph';
    notes = notesOf(way);
    report = await viaGraph();
  }

  // every further mailbox exosend authenticates as: up to AUTH (its FullAccess, its SMTP AUTH); on
  // Graph only a send shows a mailbox's access, and the test send goes from the first
  let failedMailbox: string | undefined;
  let otherDiagnosis: ProbeReport['diagnosis'];
  for (const mailbox of report.ok && way === 'smtp' ? config.mailboxes.filter((m) => m !== config.mailbox) : []) {
    const other = await runProbe({ config: { ...config, mailbox }, credential: probeCredential, tokens });
    const auth = other.stages.find((s) => s.stage === 'auth' || !s.ok);
    record({
      stage: auth?.stage ?? 'auth',
      ok: other.ok,
      durationMs: auth?.durationMs ?? 0,
      note: `mailbox ${mailbox} (EXOSEND_MAILBOXES): ${other.ok ? 'AUTH XOAUTH2 passed' : `failed: ${other.diagnosis?.code}`}`,
    });
    if (!other.ok) {
      failedMailbox = mailbox;
      otherDiagnosis = other.diagnosis;
      break;
    }
  }
  const failed = report.stages.find((s) => !s.ok);
  const d = report.diagnosis ?? otherDiagnosis;
  let wayOut: DoctorStageResult | undefined;
  if (failed && d) {
    const sendAsDenied = failed.stage === 'send' && d.code === 'SEND_AS_DENIED' && from !== config.mailbox;
    record({ stage: sendAsDenied ? 'from' : failed.stage, ok: false, durationMs: failed.durationMs });
    if (d.code === 'SMTP_AUTH_DISABLED') {
      // the way out that leaves the tenant's SMTP AUTH off: its own step, not only a line of the fix;
      // shown after the failed stage, which stays the last of `stages` (scripts read it there)
      wayOut = await graphWayOut(config, graph);
      redactor.add(graph.tokens.peek()?.token);
      emit(wayOut);
    }
  } else if (!failedMailbox) {
    if (!options.to)
      record({ stage: 'send', ok: true, durationMs: 0, skipped: 'no --to ADDRESS, so nothing was sent' });
    record(fromCheck(config.mailbox, from, options.to !== undefined));
  }
  const scope = way === 'graph' ? graph.scope : config.scope;
  const { keyVaultUrl: vaultUrl, clientSecretName, clientCertificateName, tenantId, clientId } = config;
  const mailbox = failedMailbox ?? config.mailbox;
  const certificate = config.credential === 'certificate' ? { certificateName: clientCertificateName } : {};
  const context = {
    tenantId,
    clientId,
    mailbox,
    from,
    vaultUrl,
    secretName: certificate.certificateName ?? clientSecretName,
    scope,
    ...certificate,
  };
  const state = report.credential;
  const expiresOn = state?.expiresOn;
  // the delivery reports reader: a warning when Graph refuses it, never the exit code (sending does not need it)
  const reader = report.ok && !failedMailbox ? await checkReader(config, credential, redactor) : undefined;
  const readerWarnings = reader?.diagnosis
    ? [`delivery reports reader: ${reader.diagnosis.code}. ${reader.diagnosis.cause} Fix: ${reader.diagnosis.fix}`]
    : [];
  return {
    ok: report.ok && !failedMailbox,
    stages,
    // filled in again with all the doctor knows, the vault and the scope too -- except what the
    // credential diagnosed itself, which knows more (the certificate's dates, the identity's token)
    ...(d
      ? {
          diagnosis: ownedByCredential.has(d.code)
            ? d
            : diagnose(d.code, context, { smtp: d.smtp, stage: d.stage, retryAfterSeconds: d.retryAfterSeconds }),
        }
      : {}),
    ...(report.token ? { claims: claimsOf(report.token) } : {}),
    credential: config.credential,
    warnings: [
      ...(report.token?.warnings ?? []),
      ...credentialWarnings({ config, state, failure: d?.code, fromEnvironment: options.secret !== undefined }),
      ...readerWarnings,
    ],
    ...(reader ? { reader: { ok: reader.ok, note: reader.note } } : {}),
    ...(expiresOn ? { credentialExpiresOn: expiresOn.toISOString() } : {}),
    ...(expiresOn && config.credential === 'secret' ? { secretExpiresOn: expiresOn.toISOString() } : {}),
    ...(report.messageId ? { messageId: report.messageId } : {}),
    ...(wayOut ? { wayOut } : {}),
  };
}

const ownedByCredential: ReadonlySet<DiagnosisCode> = new Set([
  'VAULT_CERTIFICATE_NOT_FOUND',
  'CERTIFICATE_NO_PRIVATE_KEY',
  'CERTIFICATE_EXPIRED',
  'CERTIFICATE_NOT_YET_VALID',
  'CERTIFICATE_NOT_REGISTERED',
  'FEDERATED_CREDENTIAL_MISMATCH',
  'MANAGED_IDENTITY_UNAVAILABLE',
]);

/** A secret typed in by the admin: nothing to read, nothing to refresh, no expiry known. */
function fixedSecret(value: string): SecretSeam {
  const secret: ClientSecret = { value, expiresOn: undefined };
  return { get: () => Promise.resolve(secret), refresh: () => Promise.resolve(secret) };
}

function claimsOf({ claims, expiresOnTimestamp }: NonNullable<ProbeReport['token']>): DoctorClaims {
  const expiresOn = new Date(claims.exp !== undefined ? claims.exp * 1000 : expiresOnTimestamp).toISOString();
  return { aud: claims.aud, roles: claims.roles, appId: claims.appId, tid: claims.tid, expiresOn };
}
