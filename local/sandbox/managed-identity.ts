import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { buildClaims, knownResources } from './access-token.js';
import { closeServer, handleWith, listen, sendJson } from './http.js';
import type { IdentityDirectory, ManagedIdentity } from './identity-directory.js';
import type { SigningKey } from './signing-key.js';

/**
 * App Service's managed-identity endpoint, as MSAL's "AppService" source calls it when
 * IDENTITY_ENDPOINT and IDENTITY_HEADER are set: GET {endpoint}?api-version=2019-08-01&resource=...
 * [&client_id=|object_id=|mi_res_id=], header X-IDENTITY-HEADER. Plain HTTP on loopback, as in App Service.
 */

export interface ManagedIdentityEndpoint {
  endpoint: string;
  header: string;
  /** The system-assigned identity. */
  clientId: string;
  objectId: string;
}

export interface ManagedIdentityServer {
  info: ManagedIdentityEndpoint;
  close(): Promise<void>;
}

const apiVersion = '2019-08-01';

/** The audiences of a managed identity's token meant as a federated credential's assertion (public, US Gov, China clouds). */
export const tokenExchangeAudiences = new Set([
  'api://AzureADTokenExchange',
  'api://AzureADTokenExchangeUSGov',
  'api://AzureADTokenExchangeChina',
]);
const lifetimeSeconds = 24 * 60 * 60;

export async function startManagedIdentityEndpoint(
  directory: IdentityDirectory,
  key: SigningKey,
  systemAssigned: ManagedIdentity,
  hooks: { onRequest(): void; onIssued(token: string, resource: string): void },
): Promise<ManagedIdentityServer> {
  const header = randomBytes(16).toString('hex');

  function select(query: URLSearchParams): ManagedIdentity | undefined {
    const wanted: [keyof ManagedIdentity, string | null][] = [
      ['clientId', query.get('client_id')],
      ['objectId', query.get('object_id') ?? query.get('principal_id')],
      ['resourceId', query.get('mi_res_id')],
    ];
    const [field, value] = wanted.find(([, v]) => v) ?? [];
    // only identities assigned to the Function App: any other is unknown to its identity endpoint
    if (!field) return systemAssigned.assigned ? systemAssigned : undefined;
    return directory.managedIdentities.find(
      (mi) => mi.assigned && String(mi[field]).toLowerCase() === value?.toLowerCase(),
    );
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const refuse = (status: number, message: string) =>
      sendJson(response, status, { statusCode: status, message, correlationId: randomUUID() });
    if (request.method !== 'GET' || url.pathname !== '/msi/token') return refuse(404, 'Not found.');
    hooks.onRequest();
    if (request.headers['x-identity-header'] !== header)
      return refuse(401, 'X-IDENTITY-HEADER is missing or does not match.');
    if (url.searchParams.get('api-version') !== apiVersion) return refuse(400, `api-version must be ${apiVersion}.`);
    const resource = (url.searchParams.get('resource') ?? '').replace(/\/\.default$/, '').replace(/\/+$/, '');
    if (!knownResources.has(resource) && !tokenExchangeAudiences.has(resource))
      return refuse(400, `AADSTS500011: The resource principal named ${resource} was not found in the tenant.`);
    const identity = select(url.searchParams);
    if (!identity) return refuse(400, 'No Managed Identity found for specified ClientId/ResourceId/PrincipalId.');

    const claims = buildClaims(
      { tenantId: identity.tenantId, appId: identity.clientId, objectId: identity.objectId, appidacr: '2' },
      resource,
      lifetimeSeconds,
    );
    // for the token exchange, Entra issues a v2.0 token: the issuer a federated credential names
    const exchange = tokenExchangeAudiences.has(resource)
      ? { iss: `https://login.microsoftonline.com/${identity.tenantId}/v2.0`, ver: '2.0', azp: identity.clientId }
      : {};
    const accessToken = await key.sign({ ...claims, ...exchange, xms_mirid: identity.resourceId });
    hooks.onIssued(accessToken, resource);
    sendJson(response, 200, {
      access_token: accessToken,
      expires_on: String(claims.exp),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId,
    });
  }

  const server = createServer(handleWith(route));
  const port = await listen(server);
  return {
    info: {
      endpoint: `http://127.0.0.1:${port}/msi/token`,
      header,
      clientId: systemAssigned.clientId,
      objectId: systemAssigned.objectId,
    },
    close: () => closeServer(server),
  };
}
