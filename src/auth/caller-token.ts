import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { sendRole } from '../config/caller-auth.js';
import type { CallerIdentity } from './caller.js';
import { CallerRefused } from './caller-refused.js';

export interface CallerTokenOptions {
  authorityHost: string;
  /** EXOSEND_TENANT_ID: a GUID or a domain; the OpenID configuration names the GUID tokens carry. */
  tenant: string;
  audiences: readonly string[];
  /** Clock skew allowed on exp and nbf. */
  clockToleranceInSeconds?: number;
}

interface TenantKeys {
  tenantId: string;
  issuers: string[];
  keys: ReturnType<typeof createRemoteJWKSet>;
}

/**
 * Checks a caller's bearer token for exosend's API against the tenant's signing keys, as a resource
 * server must (MicrosoftDocs/entra-docs, docs/identity-platform/access-token-claims-reference.md):
 * RS256 only (no `alg: none`, no HS256 keyed with a public key), a key from the tenant's JWKS, the
 * audience, the issuer of a v1.0 or v2.0 token of this tenant, `tid`, exp/nbf, and the app role.
 */
export class CallerTokenVerifier {
  private tenantKeys: Promise<TenantKeys> | undefined;

  constructor(private readonly options: CallerTokenOptions) {}

  async verify(token: string): Promise<CallerIdentity> {
    const { tenantId, issuers, keys } = await this.discover();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: ['RS256'],
        clockTolerance: this.options.clockToleranceInSeconds ?? 30,
        requiredClaims: ['exp', 'aud', 'iss', 'tid'],
      }));
    } catch (error) {
      throw refusal(error);
    }
    const appId = callerAppId(payload);
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audiences.some((aud) => aud !== undefined && this.options.audiences.includes(aud))) {
      throw new CallerRefused(
        'CALLER_TOKEN_WRONG_AUDIENCE',
        `The token is not for exosend's API: ask for a token with the scope <Application ID URI>/.default, the URI being one of EXOSEND_API_AUDIENCE.`,
        appId,
      );
    }
    if (!issuers.includes(String(payload.iss)) || String(payload['tid']).toLowerCase() !== tenantId) {
      throw new CallerRefused(
        'CALLER_TOKEN_WRONG_ISSUER',
        "The token was issued by another tenant than exosend's: a caller gets its token from exosend's own tenant.",
        appId,
      );
    }
    if (payload['scp'] !== undefined) {
      // a delegated (user) token: exosend's callers are applications acting as themselves
      throw new CallerRefused(
        'CALLER_TOKEN_INVALID',
        'The token acts for a user: exosend takes app-only tokens (client credentials or a managed identity).',
        appId,
      );
    }
    const roles = payload['roles'];
    if (!Array.isArray(roles) || !roles.includes(sendRole)) {
      throw new CallerRefused(
        'CALLER_ROLE_MISSING',
        `The calling app does not hold exosend's app role ${sendRole}: an admin assigns it to the app's service principal (or managed identity).`,
        appId,
      );
    }
    if (!appId) throw new CallerRefused('CALLER_TOKEN_INVALID', 'The token names no calling app (appid or azp).');
    return { kind: 'entra', appId, tenantId, tokenVersion: payload['ver'] === '2.0' ? '2.0' : '1.0' };
  }

  /**
   * The tenant's OpenID configuration, read once per worker: its jwks_uri, and its issuer, which
   * names the tenant's GUID. jose's remote key set caches the keys for 10 minutes and, on a `kid`
   * it does not know, fetches them again at most every 30 s (panva/jose src/jwks/remote.ts).
   */
  private discover(): Promise<TenantKeys> {
    this.tenantKeys ??= this.readConfiguration().catch((error: unknown) => {
      this.tenantKeys = undefined;
      throw error;
    });
    return this.tenantKeys;
  }

  private async readConfiguration(): Promise<TenantKeys> {
    const { authorityHost, tenant } = this.options;
    const url = `${authorityHost}/${encodeURIComponent(tenant)}/v2.0/.well-known/openid-configuration`;
    let configuration: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      configuration = (await response.json()) as typeof configuration;
    } catch (error) {
      throw new CallerRefused(
        'CALLER_KEYS_UNAVAILABLE',
        "exosend could not read its tenant's signing keys to check the token; try again later.",
        undefined,
        { cause: error },
      );
    }
    const issuer = typeof configuration.issuer === 'string' ? configuration.issuer : '';
    const tenantId = /\/([0-9a-f-]{36})\/v2\.0$/i.exec(issuer)?.[1]?.toLowerCase();
    if (!tenantId || typeof configuration.jwks_uri !== 'string') {
      throw new CallerRefused(
        'CALLER_KEYS_UNAVAILABLE',
        "exosend's tenant's OpenID configuration names no issuer or keys; try again later.",
      );
    }
    return {
      tenantId,
      // v2.0 tokens: the configuration's issuer; v1.0 tokens (the default, accessTokenAcceptedVersion
      // null or 1): https://sts.windows.net/{tid}/ (access-token-claims-reference.md, reference-app-manifest.md)
      issuers: [issuer, `https://sts.windows.net/${tenantId}/`],
      keys: createRemoteJWKSet(new URL(configuration.jwks_uri), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }),
    };
  }
}

/** The calling app: `azp` in a v2.0 token, `appid` in a v1.0 token (access-token-claims-reference.md). */
function callerAppId(payload: JWTPayload): string | undefined {
  const id = payload['ver'] === '2.0' ? payload['azp'] : payload['appid'];
  return typeof id === 'string' && id ? id.toLowerCase() : undefined;
}

function refusal(error: unknown): CallerRefused {
  if (error instanceof errors.JWTExpired) {
    return new CallerRefused(
      'CALLER_TOKEN_EXPIRED',
      'The token has expired: get a new one (the Azure SDK credentials renew it before it does).',
    );
  }
  if (error instanceof errors.JWKSTimeout) {
    return new CallerRefused(
      'CALLER_KEYS_UNAVAILABLE',
      "exosend could not read its tenant's signing keys to check the token; try again later.",
      undefined,
      { cause: error },
    );
  }
  if (error instanceof errors.JOSEError) {
    // alg none or HS256 (JOSEAlgNotAllowed), a kid not in the tenant's keys (JWKSNoMatchingKey), a bad signature, nbf in the future
    return new CallerRefused(
      'CALLER_TOKEN_INVALID',
      `The token is not a valid token of exosend's tenant (${error.code}).`,
      undefined,
      { cause: error },
    );
  }
  if (error instanceof CallerRefused) return error;
  return new CallerRefused(
    'CALLER_KEYS_UNAVAILABLE',
    "exosend could not read its tenant's signing keys to check the token; try again later.",
    undefined,
    { cause: error },
  );
}
