import { secretDaysLeft, secretExpiresSoon } from '../auth/secret-expiry.js';
import type { AppToken } from '../auth/token-provider.js';
import type { ExosendConfig } from '../config.js';
import type { DiagnosisCode } from '../diagnosis/diagnosis.js';
import type { DoctorStageResult } from './doctor-report.js';


/** What each passed stage found, in words; never the secret or the token itself. */
export function chainNotes(config: ExosendConfig, to: string | undefined, from: string) {
  const { clientSecretName, keyVaultUrl, authorityHost, tenantId, scope, smtp, mailbox } = config;
  return {
    vault: (expiresOn: Date | undefined) =>
      `${clientSecretName} in ${keyVaultUrl}; ${expiresOn ? `expires ${day(expiresOn)} (${secretDaysLeft(expiresOn)} days left)` : 'the vault states no expiry date'}`,
    claims: (token: AppToken | undefined) => {
      if (!token) return undefined;
      const { aud, roles, appId, tid } = token.claims;
      const expires = new Date(token.expiresOnTimestamp);
      const minutes = Math.round((token.expiresOnTimestamp - Date.now()) / 60_000);
      return `aud ${aud}, roles ${roles.join(' ') || '(none)'}, appid ${appId ?? '(none)'}, tid ${tid ?? '(none)'}, expires ${expires.toISOString().slice(11, 19)} UTC (in ${minutes} min)`;
    },
    token: `client credentials at ${authorityHost}/${tenantId}/oauth2/v2.0/token, scope ${scope}`,
    connect: `${smtp.host}:${smtp.port}, STARTTLS with TLS 1.2 or newer`,
    tls: undefined,
    auth: `as ${mailbox}`,
    send: `to ${to ?? '(nobody)'}, From ${from}: accepted`,
  };
}

/** KB486942's SendAsDenied row: the From must be the mailbox that authenticates, or have Send As. */
export function fromCheck(mailbox: string, from: string, sent: boolean): DoctorStageResult {
  if (from === mailbox) return { stage: 'from', ok: true, durationMs: 0, note: `the From is the mailbox itself (${mailbox}): no Send As needed` };
  if (!sent) {
    return { stage: 'from', ok: true, durationMs: 0, skipped: `${from} is not the mailbox ${mailbox}: only a test send shows whether it may send as ${from}; add --to ADDRESS` };
  }
  return { stage: 'from', ok: true, durationMs: 0, note: `${mailbox} may send as ${from} (Send As granted)` };
}

export interface SecretFacts {
  expiresOn: Date | undefined;
  clientId: string;
  failure: DiagnosisCode | undefined;
  fromEnvironment: boolean;
}

export function secretWarnings({ expiresOn, clientId, failure, fromEnvironment }: SecretFacts): string[] {
  const warnings: string[] = [];
  if (expiresOn && secretExpiresSoon(secretDaysLeft(expiresOn))) {
    warnings.push(
      `The vault states the client secret expires on ${day(expiresOn)} (${secretDaysLeft(expiresOn)} days left): create the next one under Entra admin center > App registrations > app ${clientId} > Certificates & secrets and store it in the vault before then.`,
    );
  }
  const inAzure = ['WEBSITE_INSTANCE_ID', 'IDENTITY_ENDPOINT', 'MSI_ENDPOINT'].some((name) => process.env[name]);
  if (failure === 'VAULT_ACCESS_DENIED' && !inAzure && !fromEnvironment) {
    warnings.push(
      'Outside Azure the vault is read with your own sign-in (`az login` or `azd auth login`), which needs "Key Vault Secrets User" on the vault; to test a secret without the vault, use --client-secret-from-env.',
    );
  }
  return warnings;
}

const day = (d: Date) => d.toISOString().slice(0, 10);
