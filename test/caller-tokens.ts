import { generateKeyPairSync } from 'node:crypto';
import { ClientSecretCredential } from '@azure/identity';
import { SignJWT } from 'jose';
import type { CallerApp, Sandbox } from '../local/sandbox/index.js';

/** A caller's token for exosend's API, from the identity stand-in's real token endpoint, as @azure/identity gets it. */
export async function callerToken(
  sandbox: Sandbox,
  caller: CallerApp,
  appIdUri = sandbox.callers.api.appIdUri,
): Promise<string> {
  const credential = new ClientSecretCredential(sandbox.app.tenantId, caller.clientId, caller.secret, {
    authorityHost: sandbox.identity.authorityHost,
    disableInstanceDiscovery: true,
  });
  const token = await credential.getToken(`${appIdUri}/.default`);
  return token.token;
}

/** The claims of a good v1.0 caller token; each forged token changes one thing. */
export function callerClaims(
  sandbox: Sandbox,
  caller: CallerApp,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const tid = sandbox.app.tenantId;
  return {
    aud: sandbox.callers.api.appIdUri,
    iss: `https://sts.windows.net/${tid}/`,
    iat: now - 300,
    nbf: now - 300,
    exp: now + 3600,
    appid: caller.clientId,
    appidacr: '1',
    idtyp: 'app',
    oid: caller.clientId,
    sub: caller.clientId,
    tid,
    roles: ['Mail.Send.Exosend'],
    ver: '1.0',
    ...overrides,
  };
}

/** Signed with a key the tenant never published, under a kid of its own. */
export async function tokenFromUnknownKey(claims: Record<string, unknown>): Promise<string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'not-a-tenant-key' }).sign(privateKey);
}

/** `alg: none`, no signature: a token anyone can write. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** HS256 keyed with the tenant's public key (the classic key-confusion forgery), under the real kid. */
export async function tokenHmacWithPublicKey(sandbox: Sandbox, claims: Record<string, unknown>): Promise<string> {
  const jwks = (await (
    await fetch(`${sandbox.identity.authorityHost}/${sandbox.app.tenantId}/discovery/v2.0/keys`)
  ).json()) as { keys: { kid: string; n: string }[] };
  const key = jwks.keys[0]!;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid })
    .sign(Buffer.from(key.n, 'base64url'));
}
