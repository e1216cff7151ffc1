import { randomUUID } from 'node:crypto';

/** An Entra ID token-endpoint failure: HTTP status, OAuth error, AADSTS code and its text. */
export interface EntraError {
  status: number;
  error: string;
  code: number;
  message: string;
}

export const entraErrors = {
  invalidSecret: (clientId: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 7000215,
    message: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
  }),
  expiredSecret: (clientId: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 7000222,
    message: `The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
  }),
  missingCredential: (): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 7000216,
    message: "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
  }),
  unknownApp: (clientId: string, tenantName: string): EntraError => ({
    status: 400,
    error: 'unauthorized_client',
    code: 700016,
    message: `Application with identifier '${clientId}' was not found in the directory '${tenantName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  }),
  unknownTenant: (tenant: string, error = 'invalid_request'): EntraError => ({
    status: 400,
    error,
    code: 90002,
    message: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  }),
  invalidScope: (scope: string): EntraError => ({
    status: 400,
    error: 'invalid_scope',
    code: 1002012,
    message: `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
  }),
  unknownResource: (resource: string, tenantName: string): EntraError => ({
    status: 400,
    error: 'invalid_resource',
    code: 500011,
    message: `The resource principal named ${resource} was not found in the tenant named ${tenantName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
  }),
  unsupportedGrant: (grantType: string): EntraError => ({
    status: 400,
    error: 'unsupported_grant_type',
    code: 70003,
    message: `The app requested an unsupported grant type '${grantType}'.`,
  }),
  certificateNotRegistered: (clientId: string, thumbprint: string, reason = 'The key was not found.'): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700027,
    message: `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - ${reason}, Thumbprint of key used by client: '${thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${clientId}']`,
  }),
  invalidAssertionSignature: (clientId: string, thumbprint: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700027,
    message: `Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${thumbprint}', Found key 'Start=..., End=...' for app Id '${clientId}']`,
  }),
  assertionOutOfTime: (payload: { nbf?: number | undefined; exp?: number | undefined }): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700024,
    message: `Client assertion is not within its valid time range. Current time: ${new Date().toISOString()}, assertion valid from ${payload.nbf === undefined ? '(none)' : new Date(payload.nbf * 1000).toISOString()}, expiry time of assertion ${payload.exp === undefined ? '(none)' : new Date(payload.exp * 1000).toISOString()}.`,
  }),
  assertionAppMismatch: (): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700021,
    message: "Client assertion application identifier doesn't match 'client_id' parameter.",
  }),
  assertionWrongAudience: (audience: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700022,
    message: `The client assertion's audience claim '${audience}' does not match the token endpoint of this tenant.`,
  }),
  malformedAssertion: (): EntraError => ({
    status: 400,
    error: 'invalid_request',
    code: 50027,
    message: 'JWT token is invalid or is malformed.',
  }),
  unsupportedAssertionType: (type: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    code: 700012,
    message: `The client_assertion_type '${type}' is not supported; use urn:ietf:params:oauth:client-assertion-type:jwt-bearer.`,
  }),
  noFederatedIssuer: (issuer: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    code: 700211,
    message: `No matching federated identity record found for presented assertion issuer '${issuer}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
  }),
  noFederatedAudience: (audience: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    code: 700212,
    message: `No matching federated identity record found for presented assertion audience '${audience}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
  }),
  noFederatedSubject: (subject: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    code: 700213,
    message: `No matching federated identity record found for presented assertion subject '${subject}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
  }),
  unavailable: (status: number): EntraError => ({
    status,
    error: 'temporarily_unavailable',
    code: 90033,
    message: 'A transient error has occurred. Please try again.',
  }),
};

/** "2024-05-16 09:12:34Z", the format Entra uses in descriptions and the timestamp field. */
function entraTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

export function entraErrorBody(failure: EntraError, authorityHost: string, correlationId: string = randomUUID()) {
  const traceId = randomUUID();
  const timestamp = entraTimestamp(new Date());
  return {
    error: failure.error,
    error_description: `AADSTS${failure.code}: ${failure.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [failure.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${authorityHost}/error?code=${failure.code}`,
  };
}
