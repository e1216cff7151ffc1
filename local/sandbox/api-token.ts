import { randomBytes } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { ApiRegistration } from './identity-directory.js';

export interface ApiTokenSubject {
  tenantId: string;
  appId: string;
  objectId: string;
  appidacr: '1' | '2';
  /** The authority as the stand-in serves it: the issuer of a v2.0 token. */
  authorityHost: string;
}

/**
 * An app-only access token for an API registered in the tenant, as Entra shapes it for the API's
 * requestedAccessTokenVersion (MicrosoftDocs/entra-docs, reference-app-manifest.md and
 * access-token-claims-reference.md): v1.0 carries `appid`, the audience as asked and issuer
 * https://sts.windows.net/{tid}/; v2.0 carries `azp`, the API's client ID as audience and issuer
 * {authority}/{tid}/v2.0. Roles are the app roles assigned to the calling app.
 */
export function buildApiClaims(
  api: ApiRegistration,
  resource: string,
  subject: ApiTokenSubject,
  lifetimeSeconds: number,
): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const roles = api.roleAssignments.get(subject.appId.toLowerCase()) ?? [];
  const common = {
    iat: now - 300,
    nbf: now - 300,
    exp: now + lifetimeSeconds,
    idtyp: 'app',
    oid: subject.objectId,
    sub: subject.objectId,
    tid: subject.tenantId,
    uti: randomBytes(16).toString('base64url'),
    ...(roles.length > 0 ? { roles: [...roles] } : {}),
  };
  if (api.accessTokenVersion === 2) {
    return {
      aud: api.clientId,
      iss: `${subject.authorityHost}/${subject.tenantId}/v2.0`,
      ...common,
      azp: subject.appId,
      azpacr: subject.appidacr,
      ver: '2.0',
    };
  }
  const issuer = `https://sts.windows.net/${subject.tenantId}/`;
  return {
    aud: resource,
    iss: issuer,
    ...common,
    appid: subject.appId,
    appidacr: subject.appidacr,
    idp: issuer,
    ver: '1.0',
  };
}
