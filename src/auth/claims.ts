import { decodeJwt } from 'jose';
import { isGuid, type ExosendConfig } from '../config/load-config.js';
import { diagnose } from '../diagnosis/diagnose.js';
import type { DiagnosisCode, DiagnosisContext } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';

export const sendAsAppRole = 'SMTP.SendAsApp';

/** Audiences Exchange Online accepts for SMTP AUTH (its resource URIs and its application ID). */
export const exchangeAudiences: ReadonlySet<string> = new Set([
  'https://outlook.office365.com',
  'https://outlook.office.com',
  'https://outlook.office365.us',
  '00000002-0000-0ff1-ce00-000000000000',
]);

/** What exosend reads from a token: for diagnosis only, never to decide whom to trust. */
export interface TokenClaims {
  aud: string;
  tid: string | undefined;
  appId: string | undefined;
  roles: readonly string[];
  /** Seconds since the epoch. */
  exp: number | undefined;
}

export type ClaimsExpectation = Pick<
  ExosendConfig,
  'tenantId' | 'clientId' | 'rolesMode' | 'mailbox' | 'scope' | 'keyVaultUrl' | 'clientSecretName'
>;

export interface CheckedClaims {
  claims: TokenClaims;
  /** Oddities Exchange may tolerate, worth an admin's look (the doctor prints them). */
  warnings: string[];
}

/**
 * Refuses a token Exchange would certainly refuse, so the caller hears why instead of a bare 535.
 * The token came over TLS from the token endpoint and stays opaque to exosend: no signature check.
 */
export function checkClaims(token: string, expect: ClaimsExpectation, nowInMs = Date.now()): CheckedClaims {
  const claims = readClaims(token, expect);
  const fail = (code: DiagnosisCode): never => {
    throw new DeliveryFailed(diagnose(code, contextOf(expect), { smtp: describe(claims), stage: 'claims' }));
  };
  if (!isExchangeAudience(claims.aud)) fail('TOKEN_WRONG_AUDIENCE');
  if (isGuid(expect.tenantId) && claims.tid?.toLowerCase() !== expect.tenantId.toLowerCase())
    fail('TOKEN_TENANT_MISMATCH');
  if (claims.appId?.toLowerCase() !== expect.clientId.toLowerCase()) fail('TOKEN_APP_MISMATCH');
  const hasRole = claims.roles.includes(sendAsAppRole);
  if (expect.rolesMode === 'entra' && !hasRole) fail('TOKEN_ROLE_MISSING');
  if (claims.exp !== undefined && claims.exp * 1000 <= nowInMs) fail('TOKEN_EXPIRES_SOON');
  const warnings =
    expect.rolesMode === 'rbac' && hasRole
      ? [
          `The token holds ${sendAsAppRole}, which RBAC for Applications does not use: remove the Entra permission so the app reaches only the mailboxes its Exchange role assignment scopes.`,
        ]
      : [];
  return { claims, warnings };
}

function readClaims(token: string, expect: ClaimsExpectation): TokenClaims {
  let payload: ReturnType<typeof decodeJwt>;
  try {
    payload = decodeJwt(token);
  } catch {
    throw new DeliveryFailed(
      diagnose('TOKEN_WRONG_AUDIENCE', contextOf(expect), {
        smtp: 'the token is not a JWT: it was not issued for Exchange Online',
        stage: 'claims',
      }),
    );
  }
  const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
  const roles = Array.isArray(payload['roles'])
    ? payload['roles'].filter((r): r is string => typeof r === 'string')
    : [];
  return {
    aud: aud ?? '',
    tid: stringClaim(payload['tid']),
    appId: stringClaim(payload['appid']) ?? stringClaim(payload['azp']),
    roles,
    exp: payload.exp,
  };
}

/** The settings under the names the catalogue's fixes use (the secret a mismatched token came from). */
function contextOf(e: ClaimsExpectation): DiagnosisContext {
  return {
    tenantId: e.tenantId,
    clientId: e.clientId,
    mailbox: e.mailbox,
    scope: e.scope,
    vaultUrl: e.keyVaultUrl,
    secretName: e.clientSecretName,
  };
}

function describe(c: TokenClaims): string {
  return `token: aud=${c.aud || '(none)'} tid=${c.tid ?? '(none)'} appid=${c.appId ?? '(none)'} roles=[${c.roles.join(', ')}]`;
}

/** Whether a token audience, or the resource of a scope, is Exchange Online's. */
export function isExchangeAudience(audienceOrScope: string): boolean {
  return exchangeAudiences.has(
    audienceOrScope
      .replace(/\/\.default$/, '')
      .replace(/\/+$/, '')
      .toLowerCase(),
  );
}

const stringClaim = (v: unknown) => (typeof v === 'string' ? v : undefined);
