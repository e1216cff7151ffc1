import { randomBytes } from 'node:crypto';
import type { JWTPayload } from 'jose';

/** The claims of an app-only v1.0 access token, as Entra issues them for Exchange, Graph and Key Vault. */
export interface AccessTokenClaims extends JWTPayload {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  appid: string;
  appidacr: '1' | '2';
  idp: string;
  idtyp: 'app';
  oid: string;
  sub: string;
  tid: string;
  uti: string;
  ver: '1.0';
  roles?: string[];
  app_displayname?: string;
}

export const exchangeAudiences = ['https://outlook.office365.com', 'https://outlook.office.com'];

/** Resources the stand-in tenant knows; any other resource is AADSTS500011. */
export const knownResources = new Set([
  ...exchangeAudiences,
  'https://outlook.office365.us',
  'https://graph.microsoft.com',
  'https://vault.azure.net',
  'https://management.azure.com',
  'https://storage.azure.com',
  'https://monitor.azure.com',
]);

/**
 * `https://outlook.office365.com/.default` -> `https://outlook.office365.com`; undefined when the
 * scope is not exactly one `<resource>/.default` (what the client-credentials grant requires).
 */
export function resourceFromScope(scope: string): string | undefined {
  const scopes = scope.split(/\s+/).filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
  const only = scopes.length === 1 ? scopes[0] : undefined;
  if (!only?.endsWith('/.default')) return undefined;
  return only.slice(0, -'/.default'.length).replace(/\/+$/, '');
}

export interface TokenSubject {
  tenantId: string;
  appId: string;
  objectId: string;
  /** '1' client secret, '2' certificate or managed identity. */
  appidacr: '1' | '2';
  roles?: string[];
  displayName?: string;
}

export function buildClaims(subject: TokenSubject, audience: string, lifetimeSeconds: number): AccessTokenClaims {
  const now = Math.floor(Date.now() / 1000);
  const issuer = `https://sts.windows.net/${subject.tenantId}/`;
  return {
    aud: audience,
    iss: issuer,
    // Entra back-dates iat and nbf by five minutes to absorb clock skew.
    iat: now - 300,
    nbf: now - 300,
    exp: now + lifetimeSeconds,
    ...(subject.displayName ? { app_displayname: subject.displayName } : {}),
    appid: subject.appId,
    appidacr: subject.appidacr,
    idp: issuer,
    idtyp: 'app',
    oid: subject.objectId,
    ...(subject.roles?.length ? { roles: [...subject.roles] } : {}),
    sub: subject.objectId,
    tid: subject.tenantId,
    uti: randomBytes(16).toString('base64url'),
    ver: '1.0',
  };
}
