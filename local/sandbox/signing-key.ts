import { createHash, generateKeyPairSync } from 'node:crypto';
import { exportJWK, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';

/** The identity stand-in's token-signing key: signs like Entra (RS256, kid = x5t) and verifies its own tokens. */
export interface SigningKey {
  kid: string;
  publicJwk(): Promise<JWK>;
  sign(claims: JWTPayload): Promise<string>;
  /** Signature, exp and nbf; throws (a jose error) when any fails. */
  verify(jwt: string, clockToleranceSeconds?: number): Promise<JWTPayload>;
}

export function createSigningKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = createHash('sha1')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url');
  return {
    kid,
    async publicJwk() {
      return { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256', x5t: kid };
    },
    sign(claims) {
      return new SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', x5t: kid, kid }).sign(privateKey);
    },
    async verify(jwt, clockToleranceSeconds = 0) {
      const { payload } = await jwtVerify(jwt, publicKey, {
        algorithms: ['RS256'],
        clockTolerance: clockToleranceSeconds,
      });
      return payload;
    },
  };
}
