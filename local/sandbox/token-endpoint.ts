import { buildApiClaims } from './api-token.js';
import { buildClaims, exchangeAudiences, knownResources, resourceFromScope } from './access-token.js';
import { entraErrors, type EntraError } from './entra-errors.js';
import { checkClientAssertion, jwtBearer } from './client-assertion.js';
import type { IdentityDirectory } from './identity-directory.js';
import type { SigningKey } from './signing-key.js';

/** The client-credentials grant of `/oauth2/v2.0/token` (scope) and of the v1 `/oauth2/token` (resource). */

export type TokenEndpointVersion = 'v1' | 'v2';

export type TokenOutcome =
  { ok: true; audience: string; body: Record<string, string | number> } | { ok: false; failure: EntraError };

export interface ClientCredentials {
  clientId?: string;
  clientSecret?: string;
  clientAssertion?: string;
  clientAssertionType?: string;
  /** Where the stand-in answers, for the audience of a certificate's assertion. */
  authorityHost?: string;
}

/** The v1 endpoint ignores `scope`; without `resource` it issues a Microsoft Graph token (KB486942's pitfall). */
const v1DefaultResource = 'https://graph.microsoft.com';

export async function grantClientCredentials(
  directory: IdentityDirectory,
  key: SigningKey,
  tenantName: string,
  version: TokenEndpointVersion,
  form: URLSearchParams,
  credentials: ClientCredentials,
): Promise<TokenOutcome> {
  const fail = (failure: EntraError): TokenOutcome => ({ ok: false, failure });
  const tenant = directory.findTenant(tenantName);
  if (!tenant) return fail(entraErrors.unknownTenant(tenantName));
  const grantType = form.get('grant_type') ?? '';
  if (grantType !== 'client_credentials') return fail(entraErrors.unsupportedGrant(grantType));

  let resource: string | undefined;
  if (version === 'v2') {
    const scope = form.get('scope') ?? '';
    resource = resourceFromScope(scope);
    if (!resource) return fail(entraErrors.invalidScope(scope));
  } else {
    resource = (form.get('resource') ?? v1DefaultResource).replace(/\/+$/, '');
  }

  const clientId = credentials.clientId ?? '';
  const app = directory.findApp(tenant.tenantId, clientId);
  if (!app) return fail(entraErrors.unknownApp(clientId, tenant.domain ?? tenant.tenantId));
  if (credentials.clientAssertion) {
    const type = credentials.clientAssertionType ?? '';
    if (type !== jwtBearer) return fail(entraErrors.unsupportedAssertionType(type));
    const path = version === 'v2' ? 'oauth2/v2.0/token' : 'oauth2/token';
    const tokenEndpoints = [tenant.tenantId, tenant.domain, tenantName]
      .filter((t): t is string => t !== undefined)
      .map((t) => `${credentials.authorityHost ?? ''}/${t}/${path}`);
    const refused = await checkClientAssertion(credentials.clientAssertion, { app, tokenEndpoints, key });
    if (refused) return fail(refused);
  } else {
    if (!credentials.clientSecret) return fail(entraErrors.missingCredential());
    if (!app.secrets.includes(credentials.clientSecret)) return fail(entraErrors.invalidSecret(app.clientId));
    if (app.secretExpired) return fail(entraErrors.expiredSecret(app.clientId));
  }
  // Entra's appidacr: 1 for a client secret, 2 for a certificate or a federated assertion
  const appidacr = credentials.clientAssertion ? '2' : '1';
  const api = directory.findApi(tenant.tenantId, resource);
  if (api) {
    const subject = {
      tenantId: tenant.tenantId,
      appId: app.clientId,
      objectId: app.servicePrincipalId,
      appidacr,
      authorityHost: credentials.authorityHost ?? '',
    } as const;
    const claims = buildApiClaims(api, resource, subject, app.lifetimeSeconds);
    const lifetime = app.lifetimeSeconds;
    return {
      ok: true,
      audience: String(claims.aud),
      body: {
        token_type: 'Bearer',
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token: await key.sign(claims),
      },
    };
  }
  if (!knownResources.has(resource))
    return fail(entraErrors.unknownResource(resource, tenant.domain ?? tenant.tenantId));

  const audience = app.audience ?? resource;
  const claims = buildClaims(
    {
      tenantId: app.issueTokensAs?.tenantId ?? tenant.tenantId,
      appId: app.issueTokensAs?.appId ?? app.clientId,
      objectId: app.servicePrincipalId,
      appidacr,
      // roles are per resource: Exchange's permissions in Exchange's tokens, Graph's in Graph's
      roles: exchangeAudiences.includes(audience)
        ? app.roles
        : audience === 'https://graph.microsoft.com'
          ? (app.graphRoles ?? [])
          : [],
      displayName: app.displayName,
    },
    audience,
    app.lifetimeSeconds,
  );
  const accessToken = await key.sign(claims);
  const lifetime = app.lifetimeSeconds;
  const body: Record<string, string | number> =
    version === 'v2'
      ? { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken }
      : {
          // The v1 endpoint answers with numbers as strings.
          token_type: 'Bearer',
          expires_in: String(lifetime),
          ext_expires_in: String(lifetime),
          expires_on: String(claims.exp),
          not_before: String(claims.nbf),
          resource,
          access_token: accessToken,
        };
  return { ok: true, audience, body };
}
