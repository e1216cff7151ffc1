import { X509Certificate } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importX509, jwtVerify, type JWTPayload } from 'jose';
import { entraErrors, type EntraError } from './entra-errors.js';
import type { AppRegistration } from './identity-directory.js';
import type { SigningKey } from './signing-key.js';

/**
 * A client assertion (RFC 7523) as Entra judges it. Signed by the app itself (iss = sub = its
 * client ID): a certificate's assertion, checked against the certificates registered on the app
 * by its x5t#S256 (or x5t) header. Issued by anyone else: a federated credential's assertion,
 * here a managed identity's token, checked against the app's federated identity credentials.
 */

export const jwtBearer = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** MSAL rounds nbf and iat to the second, and clocks drift: Entra allows some skew, so does this. */
const clockToleranceSeconds = 300;

export interface AssertionContext {
  app: AppRegistration;
  /** URLs the assertion's aud may name: the tenant's token endpoint, by GUID or domain. */
  tokenEndpoints: string[];
  /** The stand-in's own key: managed identities' tokens are signed with it. */
  key: SigningKey;
}

export async function checkClientAssertion(
  assertion: string,
  context: AssertionContext,
): Promise<EntraError | undefined> {
  let payload: JWTPayload;
  try {
    payload = decodeJwt(assertion);
  } catch {
    return entraErrors.malformedAssertion();
  }
  const { app } = context;
  return payload.iss === app.clientId
    ? checkCertificateAssertion(assertion, payload, context)
    : checkFederatedAssertion(assertion, payload, context);
}

async function checkCertificateAssertion(
  assertion: string,
  payload: JWTPayload,
  { app, tokenEndpoints }: AssertionContext,
): Promise<EntraError | undefined> {
  const header = decodeProtectedHeader(assertion);
  const sha256 =
    typeof header['x5t#S256'] === 'string'
      ? Buffer.from(header['x5t#S256'], 'base64url').toString('hex').toUpperCase()
      : undefined;
  const sha1 =
    typeof header.x5t === 'string' ? Buffer.from(header.x5t, 'base64url').toString('hex').toUpperCase() : undefined;
  const presented = sha256 ?? sha1 ?? '';
  const registered = app.certificates.find((pem) => {
    const x509 = new X509Certificate(pem);
    return [x509.fingerprint256, x509.fingerprint].some((f) => f.replace(/:/g, '') === presented);
  });
  if (!registered) return entraErrors.certificateNotRegistered(app.clientId, presented);
  if (new Date(new X509Certificate(registered).validTo).getTime() < Date.now())
    return entraErrors.certificateNotRegistered(app.clientId, presented, 'The key used is expired.');
  const alg = header.alg ?? 'RS256';
  try {
    await jwtVerify(assertion, await importX509(registered, alg), {
      algorithms: ['PS256', 'RS256'],
      clockTolerance: clockToleranceSeconds,
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED' || code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
      return entraErrors.assertionOutOfTime(payload);
    return entraErrors.invalidAssertionSignature(app.clientId, presented);
  }
  if (payload.sub !== app.clientId) return entraErrors.assertionAppMismatch();
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!audiences.some((a) => a !== undefined && tokenEndpoints.includes(a)))
    return entraErrors.assertionWrongAudience(String(payload.aud));
  if (payload.exp === undefined) return entraErrors.assertionOutOfTime(payload);
  return undefined;
}

async function checkFederatedAssertion(
  assertion: string,
  payload: JWTPayload,
  { app, key }: AssertionContext,
): Promise<EntraError | undefined> {
  try {
    await key.verify(assertion, clockToleranceSeconds);
  } catch (error) {
    const code = (error as { code?: string }).code;
    return code === 'ERR_JWT_EXPIRED' ? entraErrors.assertionOutOfTime(payload) : entraErrors.malformedAssertion();
  }
  const issuer = String(payload.iss);
  const subject = String(payload.sub);
  const audiences = (Array.isArray(payload.aud) ? payload.aud : [payload.aud]).filter(
    (a): a is string => typeof a === 'string',
  );
  // exact and case-sensitive, as Entra matches since 2025 ("Federated identity credentials now use
  // case-sensitive matching", Entra's breaking changes, quoted in Azure/login issue #517)
  const byIssuer = app.federatedCredentials.filter((f) => f.issuer === issuer);
  if (byIssuer.length === 0) return entraErrors.noFederatedIssuer(issuer);
  const bySubject = byIssuer.filter((f) => f.subject === subject);
  if (bySubject.length === 0) return entraErrors.noFederatedSubject(subject);
  if (!bySubject.some((f) => f.audiences.some((a) => audiences.includes(a))))
    return entraErrors.noFederatedAudience(audiences.join(', '));
  return undefined;
}
