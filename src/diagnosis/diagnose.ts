import { catalogue } from './catalogue.js';
import type { Diagnosis, DiagnosisCode, DiagnosisContext, Stage } from './diagnosis.js';
import { redactSecrets } from './redact-secrets.js';

// The catalogue's template engine: a code's entry, its `{placeholders}` filled from the context.

const fallback: Required<DiagnosisContext> & { vaultName: string } = {
  tenantId: '<tenant id>',
  clientId: '<client id>',
  mailbox: '<mailbox>',
  from: '<From address>',
  vaultUrl: '<vault URL>',
  secretName: '<secret name>',
  scope: '<scope>',
  certificateName: '<certificate name>',
  thumbprint: '<thumbprint>',
  notBefore: '<not before>',
  notAfter: '<not after>',
  issuer: 'https://login.microsoftonline.com/<tenant id>/v2.0',
  subject: '<principal ID of the managed identity>',
  audience: 'api://AzureADTokenExchange',
  identityClientId: '<AZURE_CLIENT_ID>',
  functionApp: '<function app>',
  resourceGroup: '<resource group>',
  vaultName: '<vault name>',
};

export interface DiagnoseDetails {
  /** The raw reply (SMTP line, AADSTS description, vault error); secrets are removed, length capped. */
  smtp?: string;
  retryAfterSeconds?: number;
  /** Where it happened, when that differs from the code's usual stage. */
  stage?: Stage;
}

/** A code with its cause and fix, worded for this app, mailbox and vault. */
export function diagnose(
  code: DiagnosisCode,
  context: DiagnosisContext = {},
  details: DiagnoseDetails = {},
): Diagnosis {
  const entry = catalogue[code];
  const values = { ...fallback, ...defined(context) };
  values.vaultName = vaultNameOf(context.vaultUrl) ?? fallback.vaultName;
  // a managed identity's token names its home tenant as issuer: this app's, when nothing better is known
  if (!context.issuer && context.tenantId) values.issuer = `https://login.microsoftonline.com/${context.tenantId}/v2.0`;
  const fill = (text: string) =>
    text.replace(/\{(\w+)\}/g, (whole, key: string) => (values as Record<string, string>)[key] ?? whole);
  const retryAfterSeconds = details.retryAfterSeconds ?? entry.retryAfterSeconds;
  return {
    code,
    stage: details.stage ?? entry.stage,
    ...(details.smtp ? { smtp: redactSecrets(details.smtp) } : {}),
    cause: fill(entry.cause),
    fix: fill(entry.fix),
    retryable: entry.retryable,
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  };
}

function defined(context: DiagnosisContext): Partial<Record<keyof DiagnosisContext, string>> {
  return Object.fromEntries(Object.entries(context).filter(([, v]) => typeof v === 'string' && v.trim() !== ''));
}

function vaultNameOf(vaultUrl: string | undefined): string | undefined {
  if (!vaultUrl) return undefined;
  try {
    return new URL(vaultUrl).hostname.split('.')[0] || undefined;
  } catch {
    return undefined;
  }
}
