import type { CredentialState } from '../src/auth/app-credential.js';
import { credentialDaysLeft, credentialExpiresSoon } from '../src/auth/credential-expiry.js';
import type { AppToken } from '../src/auth/token-provider.js';
import type { ExosendConfig } from '../src/config/load-config.js';
import type { DiagnosisCode, Stage } from '../src/diagnosis/diagnosis.js';
import type { DoctorStageResult } from './doctor-report.js';
import { largeMessagesNote } from './doctor-graph.js';

interface NoteFacts {
  credential: CredentialState | undefined;
  token: AppToken | undefined;
}

/** What each passed stage found, in words; never the secret, the key or a token itself. */
export function chainNotes(config: ExosendConfig, to: string | undefined, from: string, viaGraph = false) {
  const { clientSecretName, clientCertificateName, keyVaultUrl, authorityHost, tenantId, scope, smtp, mailbox } =
    config;
  const tokenEndpoint = `${authorityHost}/${tenantId}/oauth2/v2.0/token, scope ${scope}`;
  const notes: Record<Stage, (facts: NoteFacts) => string | undefined> = {
    vault: ({ credential }) => {
      if (config.credential === 'certificate')
        return `certificate ${clientCertificateName} in ${keyVaultUrl}, with its private key; thumbprint ${credential?.thumbprint ?? '(unknown)'}`;
      const expiresOn = credential?.expiresOn;
      return `${clientSecretName} in ${keyVaultUrl}; ${expiresOn ? `expires ${day(expiresOn)} (${credentialDaysLeft(expiresOn)} days left)` : 'the vault states no expiry date'}`;
    },
    certificate: ({ credential }) =>
      credential?.notBefore && credential.expiresOn
        ? `valid from ${day(credential.notBefore)} to ${day(credential.expiresOn)} (${credentialDaysLeft(credential.expiresOn)} days left)`
        : undefined,
    token: () => {
      if (config.credential === 'certificate')
        return `client assertion signed with the certificate (PS256, x5t#S256), client credentials at ${tokenEndpoint}`;
      if (config.credential === 'federated') {
        const identity = config.managedIdentityClientId
          ? `user-assigned identity ${config.managedIdentityClientId}`
          : 'system-assigned identity';
        return `the ${identity}'s token for ${config.federatedAudience} as client assertion, client credentials at ${tokenEndpoint}`;
      }
      return `client credentials at ${tokenEndpoint}`;
    },
    claims: ({ token }) => {
      if (!token) return undefined;
      const { aud, roles, appId, tid } = token.claims;
      const expires = new Date(token.expiresOnTimestamp);
      const minutes = Math.round((token.expiresOnTimestamp - Date.now()) / 60_000);
      const large = viaGraph ? `; ${largeMessagesNote(config, roles)}` : '';
      return `aud ${aud}, roles ${roles.join(' ') || '(none)'}, appid ${appId ?? '(none)'}, tid ${tid ?? '(none)'}, expires ${expires.toISOString().slice(11, 19)} UTC (in ${minutes} min)${large}`;
    },
    connect: () => `${smtp.host}:${smtp.port}, STARTTLS with TLS 1.2 or newer`,
    tls: () => undefined,
    auth: () => `as ${mailbox}`,
    send: () => `to ${to ?? '(nobody)'}, From ${from}: accepted`,
  };
  return { of: (stage: Stage, facts: NoteFacts) => notes[stage](facts) };
}

/** Whether this machine has a managed identity endpoint (App Service, Functions, a Kudu console). */
export function managedIdentityHere(env: Record<string, string | undefined> = process.env): boolean {
  return ['IDENTITY_ENDPOINT', 'MSI_ENDPOINT'].some((name) => env[name]);
}

/** Said plainly, instead of a managed-identity timeout: the laptop cannot try a federated credential. */
export function untestableFederation(config: ExosendConfig): string {
  return `EXOSEND_CREDENTIAL=federated cannot be tried here: the token comes from the Function App's managed identity, and there is none outside Azure (IDENTITY_ENDPOINT is not set). The deployed app runs the same preflight: \`curl -H "x-functions-key: <function key>" https://<function app>.azurewebsites.net/api/health\` (its preflight names any failure with its fix). The app registration ${config.clientId} needs a federated credential with issuer https://login.microsoftonline.com/<tenant ID>/v2.0, subject the identity's principal ID and audience ${config.federatedAudience}.`;
}

/** KB486942's SendAsDenied row: the From must be the mailbox that authenticates, or have Send As. */
export function fromCheck(mailbox: string, from: string, sent: boolean): DoctorStageResult {
  if (from === mailbox)
    return {
      stage: 'from',
      ok: true,
      durationMs: 0,
      note: `the From is the mailbox itself (${mailbox}): no Send As needed`,
    };
  if (!sent) {
    return {
      stage: 'from',
      ok: true,
      durationMs: 0,
      skipped: `${from} is not the mailbox ${mailbox}: only a test send shows whether it may send as ${from}; add --to ADDRESS`,
    };
  }
  return { stage: 'from', ok: true, durationMs: 0, note: `${mailbox} may send as ${from} (Send As granted)` };
}

export interface CredentialFacts {
  config: Pick<ExosendConfig, 'credential' | 'clientId' | 'clientCertificateName' | 'keyVaultUrl'>;
  state: CredentialState | undefined;
  failure: DiagnosisCode | undefined;
  fromEnvironment: boolean;
}

/** The same 30-day rule as the health check's, worded for the credential at hand. */
export function credentialWarnings({ config, state, failure, fromEnvironment }: CredentialFacts): string[] {
  const warnings: string[] = [];
  const expiresOn = state?.expiresOn;
  if (expiresOn && credentialExpiresSoon(credentialDaysLeft(expiresOn))) {
    const left = `${day(expiresOn)} (${credentialDaysLeft(expiresOn)} days left)`;
    warnings.push(
      config.credential === 'certificate'
        ? `The certificate ${config.clientCertificateName} expires on ${left}: create its next version in the vault and upload the public part to app ${config.clientId} (\`az ad app credential reset --id ${config.clientId} --keyvault <vault> --cert ${config.clientCertificateName} --append\`) before then.`
        : `The vault states the client secret expires on ${left}: create the next one under Entra admin center > App registrations > app ${config.clientId} > Certificates & secrets and store it in the vault before then.`,
    );
  }
  if (
    failure === 'VAULT_ACCESS_DENIED' &&
    !managedIdentityHere() &&
    !('WEBSITE_INSTANCE_ID' in process.env) &&
    !fromEnvironment
  ) {
    warnings.push(
      `Outside Azure the vault is read with your own sign-in (\`az login\` or \`azd auth login\`), which needs "Key Vault Secrets User" on the vault${config.credential === 'secret' ? '; to test a secret without the vault, use --client-secret-from-env' : ''}.`,
    );
  }
  return warnings;
}

const day = (d: Date) => d.toISOString().slice(0, 10);
