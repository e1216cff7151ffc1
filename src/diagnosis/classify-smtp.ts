import { diagnose } from './diagnose.js';
import { classifyIdentityError, isIdentityError } from './classify-identity.js';
import { classifyVaultError, isVaultError } from './classify-vault.js';
import { diagnosisCodes, type Diagnosis, type DiagnosisCode, type DiagnosisContext, type Stage } from './diagnosis.js';

/** The fields nodemailer puts on its errors. */
interface SmtpErrorFields {
  message?: unknown;
  code?: unknown;
  originalCode?: unknown;
  responseCode?: unknown;
  response?: unknown;
  command?: unknown;
  timeoutType?: unknown;
  diagnosis?: unknown;
}

/** Exchange Online's replies (reference/exchange-online.md), most specific first; tested on the whole reply. */
const replyRules: readonly [RegExp, DiagnosisCode][] = [
  [/SmtpClientAuthentication is disabled|\b5\.7\.139\b.*\bdisabled\b/i, 'SMTP_AUTH_DISABLED'],
  [/\b5\.7\.139\b/, 'APP_NOT_REGISTERED_IN_EXCHANGE'],
  [/\b5\.5\.127\b|Token will expire soon/i, 'TOKEN_EXPIRES_SOON'],
  // 5.7.30: basic authentication reached Exchange; the token did not -- the same five checks apply.
  // 5.5.124: the user= address is not valid, which is check 4 of the same list.
  [/\b535[ -]5\.7\.3\b|\b5\.7\.30\b|\b5\.5\.124\b/, 'AUTH_UNSUCCESSFUL'],
  [/\b5\.7\.57\b/, 'NOT_AUTHENTICATED'],
  [/SendAsDenied|\b5\.2\.252\b|\b5\.7\.60\b/i, 'SEND_AS_DENIED'],
  [/SubmissionQuotaExceeded/i, 'DAILY_QUOTA_EXCEEDED'],
  [/\b5\.2\.2\b/, 'MAILBOX_FULL'],
  [/^432[ -]|sender thread limit|Concurrent connections limit/i, 'CONCURRENCY_LIMIT'],
  [/\b5\.7\.7\d\d\b|\b5\.1\.8\b|\b5\.7\.233\b|\b5\.7\.50[123]\b/, 'SENDER_BLOCKED'],
  [/\b4\.7\.66\b|\bTLS 1\.[01]\b/i, 'TLS_REJECTED'],
];

const tlsFailure = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_SSL|ERR_TLS|EPROTO|wrong version number|handshake/i;
const messageFaults = new Set([
  'EENVELOPE',
  'EMESSAGE',
  'ESTREAM',
  'EMAXRECIPIENTS',
  'ECONFIG',
  'EFILEACCESS',
  'EURLACCESS',
]);

/**
 * A nodemailer failure as a diagnosis, with Exchange's reply kept as `smtp`. A token or secret
 * failure that reached nodemailer through the provisionCallback is classified as what it is.
 */
export function classifySmtpError(err: unknown, context: DiagnosisContext): Diagnosis {
  const carried = carriedDiagnosis(err);
  if (carried) return carried;
  if (isIdentityError(err)) return classifyIdentityError(err, context);
  if (isVaultError(err)) return classifyVaultError(err, context);
  const e = fields(err);
  const reply = typeof e.response === 'string' && e.response.trim() !== '' ? e.response.trim() : undefined;
  const replyCode =
    typeof e.responseCode === 'number' ? e.responseCode : Number(/^\d{3}/.exec(reply ?? '')?.[0]) || undefined;
  const errCode = typeof e.code === 'string' ? e.code : undefined;
  // EAUTH without a reply: the token could not be had (provisionCallback), not refused by Exchange
  if (errCode === 'EAUTH' && !reply) return classifyIdentityError(err, context);
  const code = replyRules.find(([rule]) => reply && rule.test(reply))?.[1] ?? fallbackCode(e, errCode, replyCode);
  return diagnose(code, context, { smtp: reply ?? describe(e, errCode), stage: stageOf(code, e, errCode) });
}

function fallbackCode(e: SmtpErrorFields, errCode: string | undefined, replyCode: number | undefined): DiagnosisCode {
  const systemText = `${typeof e.originalCode === 'string' ? e.originalCode : ''} ${typeof e.message === 'string' ? e.message : ''}`;
  if (errCode === 'ETLS' || errCode === 'EREQUIRETLS') return 'TLS_REJECTED';
  // the AUTH command itself refused (500/502/504): the server does not take XOAUTH2 at all
  if (typeof e.command === 'string' && /^AUTH/i.test(e.command) && [500, 502, 504].includes(replyCode ?? 0))
    return 'NOT_AUTHENTICATED';
  if (replyCode !== undefined && replyCode >= 400 && replyCode < 500) return 'TEMPORARY_FAILURE';
  // 503 is a bad command sequence, not a verdict on the message: a new connection can succeed
  if (replyCode !== undefined && replyCode >= 500 && replyCode < 600)
    return replyCode === 503 ? 'TEMPORARY_FAILURE' : 'SMTP_REJECTED';
  if ((errCode === 'ESOCKET' || errCode === 'ECONNECTION') && tlsFailure.test(systemText)) return 'TLS_REJECTED';
  if (errCode !== undefined && messageFaults.has(errCode)) return 'SMTP_REJECTED';
  return 'TEMPORARY_FAILURE';
}

/** nodemailer names the command that failed; every socket-level failure is its pseudo-command CONN. */
function stageOf(code: DiagnosisCode, e: SmtpErrorFields, errCode: string | undefined): Stage {
  const command = typeof e.command === 'string' ? e.command.toUpperCase() : undefined;
  if (code === 'TLS_REJECTED' || command === 'STARTTLS' || e.timeoutType === 'UPGRADE_TIMEOUT') return 'tls';
  if (command?.startsWith('AUTH') || (errCode === 'EAUTH' && (command === undefined || command === 'API')))
    return 'auth';
  if (command === 'CONN' || command === 'EHLO' || command === 'HELO' || command === 'LHLO') return 'connect';
  if (command === undefined && code === 'TEMPORARY_FAILURE') return 'connect';
  return 'send';
}

function describe(e: SmtpErrorFields, errCode: string | undefined): string | undefined {
  const message = typeof e.message === 'string' ? (e.message.split(/\r?\n/)[0] ?? '') : '';
  const system = typeof e.originalCode === 'string' ? ` (${e.originalCode})` : '';
  return errCode || message ? `${errCode ?? 'Error'}${system}: ${message}` : undefined;
}

/** An error that already carries a diagnosis (exosend's own, thrown from the token provider) keeps it. */
function carriedDiagnosis(err: unknown): Diagnosis | undefined {
  const d = fields(err).diagnosis as Partial<Diagnosis> | undefined;
  const known = typeof d === 'object' && d !== null && (diagnosisCodes as readonly unknown[]).includes(d.code);
  return known && typeof d.cause === 'string' && typeof d.fix === 'string' ? (d as Diagnosis) : undefined;
}

function fields(err: unknown): SmtpErrorFields {
  return typeof err === 'object' && err !== null ? err : { message: String(err) };
}
