import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { JWTPayload } from 'jose';
import type { AccessTokenClaims } from './access-token.js';
import { entraErrorBody, entraErrors, type EntraError } from './entra-errors.js';
import { closeServer, handleWith, listen, readBody, sendJson } from './http.js';
import {
  IdentityDirectory,
  type ApiRegistration,
  type AppRegistration,
  type AppRegistrationInput,
  type ManagedIdentity,
  type TenantRegistration,
} from './identity-directory.js';
import { startManagedIdentityEndpoint, type ManagedIdentityEndpoint } from './managed-identity.js';
import type { TlsMaterial } from './pki.js';
import { createSigningKey } from './signing-key.js';
import { grantClientCredentials, type ClientCredentials, type TokenEndpointVersion } from './token-endpoint.js';

export type {
  ApiRegistration,
  AppRegistration,
  AppRegistrationInput,
  ManagedIdentity,
  TenantRegistration,
} from './identity-directory.js';
export type { ManagedIdentityEndpoint } from './managed-identity.js';

export interface IdentityStandInOptions {
  tls: TlsMaterial;
  /** Home tenant of the managed identities; registered at start. Default: a new GUID. */
  tenantId?: string;
}

export interface IdentityCounters {
  /** Every request to a token endpoint (v1 or v2), failed ones included; managed identity apart. */
  tokenRequests: number;
  /** Tokens issued, by audience. */
  tokensByAudience: Record<string, number>;
  openIdConfigRequests: number;
  /** Requests for the tenant's signing keys (JWKS). */
  jwksRequests: number;
  managedIdentityRequests: number;
  /** Managed-identity tokens issued, by resource (`https://storage.azure.com`, `https://monitor.azure.com`, ...). */
  managedIdentityTokensByResource: Record<string, number>;
}

/** What the other stand-ins need from the identity platform: where it is, and whether a token is its own. */
export interface TokenVerifier {
  authorityHost: string;
  /** Checks signature, exp and nbf; returns the claims or throws. */
  verifyToken(jwt: string): Promise<AccessTokenClaims>;
}

export interface IdentityStandIn extends TokenVerifier {
  homeTenantId: string;
  managedIdentity: ManagedIdentityEndpoint;
  counters: IdentityCounters;
  registerTenant(tenant: TenantRegistration): TenantRegistration;
  registerApp(app: AppRegistrationInput): AppRegistration;
  updateApp(clientId: string, patch: Partial<Omit<AppRegistration, 'clientId' | 'tenantId'>>): AppRegistration;
  /** An app registration that exposes an API (exosend's): tokens for its Application ID URI carry the roles assigned on it. */
  registerApi(api: { appIdUri: string; clientId?: string; accessTokenVersion?: 1 | 2 }): ApiRegistration;
  /** Assigns one of the API's app roles to a calling app (its service principal), as appRoleAssignedTo does. */
  assignApiRole(apiClientId: string, callerClientId: string, role: string): void;
  /** A user-assigned identity; `assigned: false` leaves it unassigned to the Function App. */
  addUserAssignedIdentity(name?: string, options?: { assigned?: boolean }): ManagedIdentity;
  /** Assigns an identity to the Function App, or removes it (its endpoint then refuses it). */
  assignIdentity(clientId: string, assigned: boolean): void;
  /**
   * The next `count` token requests fail with `status` (Entra's temporarily_unavailable) and Retry-After.
   * `retryAfterInMs` adds `x-ms-retry-after-ms`, which Entra does not send but the Azure SDK's
   * pipeline prefers: a short one keeps a test of the retries around it fast.
   */
  failTokenRequests(count: number, status?: number, retryAfterSeconds?: number, retryAfterInMs?: number): void;
  signToken(claims: JWTPayload): Promise<string>;
  /** A token made elsewhere (a test's forgery): it joins knownSecrets, so that the app may never repeat it either. */
  rememberSecret(value: string): string;
  /** Every secret value and token this stand-in has seen or issued: none may ever appear in a log. */
  knownSecrets(): string[];
  resetCounters(): void;
  close(): Promise<void>;
}

function basicCredentials(request: IncomingMessage): ClientCredentials {
  const [scheme, value] = (request.headers.authorization ?? '').split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !value) return {};
  const [id, secret] = Buffer.from(value, 'base64').toString('utf8').split(':');
  return { clientId: decodeURIComponent(id ?? ''), clientSecret: decodeURIComponent(secret ?? '') };
}

export async function startIdentityStandIn(options: IdentityStandInOptions): Promise<IdentityStandIn> {
  const directory = new IdentityDirectory();
  const key = createSigningKey();
  const homeTenantId = options.tenantId ?? randomUUID();
  directory.registerTenant({ tenantId: homeTenantId });
  const counters: IdentityCounters = {
    tokenRequests: 0,
    tokensByAudience: {},
    openIdConfigRequests: 0,
    jwksRequests: 0,
    managedIdentityRequests: 0,
    managedIdentityTokensByResource: {},
  };
  let outage: { remaining: number; status: number; retryAfterSeconds: number; retryAfterInMs?: number | undefined } = {
    remaining: 0,
    status: 503,
    retryAfterSeconds: 1,
  };
  const secrets = new Set<string>();
  const remember = (app: AppRegistration) => {
    app.secrets.forEach((s) => secrets.add(s));
    return app;
  };
  let authorityHost = '';

  function openIdConfiguration(tenantId: string) {
    const base = `${authorityHost}/${tenantId}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'tid', 'ver', 'oid'],
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
    };
  }

  async function token(
    request: IncomingMessage,
    response: ServerResponse,
    tenant: string,
    version: TokenEndpointVersion,
  ) {
    counters.tokenRequests += 1;
    const correlationId = String(request.headers['client-request-id'] ?? randomUUID());
    const headers = { 'client-request-id': correlationId, 'x-ms-request-id': randomUUID() };
    const refuse = (failure: EntraError, extra: Record<string, string> = {}) =>
      sendJson(response, failure.status, entraErrorBody(failure, authorityHost, correlationId), {
        ...headers,
        ...extra,
      });
    const form = new URLSearchParams(await readBody(request));
    if (outage.remaining > 0) {
      outage.remaining -= 1;
      const { retryAfterSeconds, retryAfterInMs } = outage;
      return refuse(entraErrors.unavailable(outage.status), {
        'retry-after': String(retryAfterSeconds),
        ...(retryAfterInMs === undefined ? {} : { 'x-ms-retry-after-ms': String(retryAfterInMs) }),
      });
    }
    const basic = basicCredentials(request);
    const assertion = form.get('client_assertion') ?? undefined;
    // an assertion is as secret as a password while it lives: none may appear in the app's output
    if (assertion) secrets.add(assertion);
    const outcome = await grantClientCredentials(directory, key, tenant, version, form, {
      clientId: form.get('client_id') ?? basic.clientId,
      clientSecret: form.get('client_secret') ?? basic.clientSecret,
      ...(assertion
        ? { clientAssertion: assertion, clientAssertionType: form.get('client_assertion_type') ?? '' }
        : {}),
      authorityHost,
    });
    if (!outcome.ok) return refuse(outcome.failure);
    const byAudience = counters.tokensByAudience;
    byAudience[outcome.audience] = (byAudience[outcome.audience] ?? 0) + 1;
    secrets.add(String(outcome.body.access_token));
    sendJson(response, 200, outcome.body, headers);
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', authorityHost).pathname;
    const [, tenant = '', ...rest] = path.split('/');
    const endpoint = `${request.method} /${rest.join('/')}`;
    switch (endpoint) {
      case 'GET /v2.0/.well-known/openid-configuration': {
        counters.openIdConfigRequests += 1;
        const known = directory.findTenant(tenant);
        if (!known) {
          const failure = entraErrors.unknownTenant(tenant, 'invalid_tenant');
          return sendJson(response, failure.status, entraErrorBody(failure, authorityHost));
        }
        return sendJson(response, 200, openIdConfiguration(known.tenantId));
      }
      case 'GET /discovery/v2.0/keys':
      case 'GET /discovery/keys':
        counters.jwksRequests += 1;
        return sendJson(response, 200, { keys: [await key.publicJwk()] });
      case 'POST /oauth2/v2.0/token':
        return token(request, response, tenant, 'v2');
      case 'POST /oauth2/token':
        return token(request, response, tenant, 'v1');
      default:
        return sendJson(response, 404, {
          error: 'not_found',
          error_description: `${request.method} ${path} is not served by the stand-in`,
        });
    }
  }

  const server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, handleWith(route));
  authorityHost = `https://127.0.0.1:${await listen(server)}`;
  const systemAssigned = directory.addManagedIdentity(homeTenantId, true);
  const msi = await startManagedIdentityEndpoint(directory, key, systemAssigned, {
    onRequest: () => {
      counters.managedIdentityRequests += 1;
    },
    onIssued: (token, resource) => {
      secrets.add(token);
      counters.managedIdentityTokensByResource[resource] =
        (counters.managedIdentityTokensByResource[resource] ?? 0) + 1;
    },
  });

  return {
    authorityHost,
    homeTenantId,
    managedIdentity: msi.info,
    counters,
    registerTenant: (tenant) => directory.registerTenant(tenant),
    registerApp: (app) => remember(directory.registerApp(app)),
    updateApp: (clientId, patch) => remember(directory.updateApp(clientId, patch)),
    registerApi: ({ appIdUri, clientId = randomUUID(), accessTokenVersion = 1 }) =>
      directory.registerApi({ appIdUri, clientId, accessTokenVersion, tenantId: homeTenantId }),
    assignApiRole(apiClientId, callerClientId, role) {
      const api = directory.apis.find((a) => a.clientId === apiClientId);
      if (!api) throw new Error(`no API ${apiClientId}`);
      const roles = api.roleAssignments.get(callerClientId.toLowerCase()) ?? [];
      api.roleAssignments.set(callerClientId.toLowerCase(), [...new Set([...roles, role])]);
    },
    addUserAssignedIdentity: (name = 'exosend-sender', { assigned = true } = {}) =>
      directory.addManagedIdentity(homeTenantId, false, name, assigned),
    assignIdentity(clientId, assigned) {
      const identity = directory.managedIdentities.find((mi) => mi.clientId === clientId);
      if (!identity) throw new Error(`no managed identity ${clientId}`);
      identity.assigned = assigned;
    },
    failTokenRequests(count, status = 503, retryAfterSeconds = 1, retryAfterInMs) {
      // MSAL treats Retry-After 0 (or none parseable) as 60 s of self-imposed throttling.
      outage = { remaining: count, status, retryAfterSeconds: Math.max(1, retryAfterSeconds), retryAfterInMs };
    },
    async signToken(claims) {
      const jwt = await key.sign(claims);
      secrets.add(jwt);
      return jwt;
    },
    rememberSecret(value) {
      secrets.add(value);
      return value;
    },
    knownSecrets: () => [...secrets, msi.info.header],
    verifyToken: async (jwt) => (await key.verify(jwt)) as AccessTokenClaims,
    resetCounters() {
      counters.tokenRequests = 0;
      counters.tokensByAudience = {};
      counters.openIdConfigRequests = 0;
      counters.jwksRequests = 0;
      counters.managedIdentityRequests = 0;
      counters.managedIdentityTokensByResource = {};
    },
    async close() {
      await Promise.all([closeServer(server), msi.close()]);
    },
  };
}
