import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AccessTokenClaims } from './access-token.js';
import { closeServer, handleWith, listen, sendJson } from './http.js';
import type { TokenVerifier } from './identity.js';
import type { TlsMaterial } from './pki.js';

/**
 * Key Vault's secret GET, as @azure/keyvault-secrets calls it: a first request without a token
 * answered 401 with a Bearer challenge naming the tenant and the resource, then the same request
 * with a token for https://vault.azure.net. Access-policy model: an object ID must be granted.
 */

export interface KeyVaultStandInOptions {
  tls: TlsMaterial;
  identity: TokenVerifier;
  tenantId: string;
  /** Appears in the 403 text. */
  vaultName?: string;
}

export interface SecretVersionInput {
  expiresOn?: Date;
  /** `application/x-pem-file` or `application/x-pkcs12` for a certificate's secret, as the vault sets it. */
  contentType?: string;
  /** The secret backs a Key Vault certificate of the same name (the vault sets `managed` and `kid`). */
  certificate?: boolean;
}

export interface KeyVaultStandIn {
  url: string;
  /** Successful secret reads since the last reset. */
  readonly reads: number;
  /** Adds a version; the newest is what a read without a version gets (rotation). */
  setSecret(name: string, value: string, options?: SecretVersionInput): { id: string; version: string };
  deleteSecret(name: string): void;
  /** The value a read without a version gets now. */
  currentValue(name: string): string | undefined;
  /** Grants `get` on secrets to a principal (the token's oid). */
  grantAccess(objectId: string): void;
  /** Grants `set` on secrets (Key Vault Secrets Officer) to a principal: `PUT /secrets/{name}` adds a version. */
  grantWrite(objectId: string): void;
  revokeAccess(objectId: string): void;
  /** Denies everyone, whatever was granted. */
  denyAccess(denied: boolean): void;
  /**
   * The next `count` requests fail with `status` (503) and `Retry-After: 1`. `retryAfterInMs` adds
   * Azure's `x-ms-retry-after-ms`, which the SDK prefers: a short one keeps a test of its retries fast.
   */
  failRequests(count: number, status?: number, retryAfterInMs?: number): void;
  knownSecrets(): string[];
  /** Adds values the secret check must look for too (a certificate's private key in its other forms). */
  rememberSecrets(values: readonly string[]): void;
  resetCounters(): void;
  close(): Promise<void>;
}

interface SecretVersion extends SecretVersionInput {
  version: string;
  value: string;
  created: number;
}

const vaultAudience = 'https://vault.azure.net';

export async function startKeyVaultStandIn(options: KeyVaultStandInOptions): Promise<KeyVaultStandIn> {
  const secrets = new Map<string, SecretVersion[]>();
  const everSeen = new Set<string>();
  const granted = new Set<string>();
  const writers = new Set<string>();
  const vaultName = options.vaultName ?? 'exosend-sandbox';
  let denied = false;
  let outage: { remaining: number; status: number; retryAfterInMs?: number } = { remaining: 0, status: 503 };
  let reads = 0;
  let url = '';

  const vaultError = (
    response: ServerResponse,
    status: number,
    error: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) =>
    sendJson(
      response,
      status,
      { error },
      { 'x-ms-request-id': randomUUID(), 'x-ms-keyvault-service-version': '1.9.0.0', ...headers },
    );

  const challenge = (response: ServerResponse, message: string) =>
    vaultError(
      response,
      401,
      { code: 'Unauthorized', message },
      {
        'www-authenticate': `Bearer authorization="${options.identity.authorityHost}/${options.tenantId}", resource="${vaultAudience}"`,
      },
    );

  async function authenticate(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<AccessTokenClaims | undefined> {
    const [scheme, token] = (request.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) {
      challenge(response, 'AKV10000: Request is missing a Bearer or PoP token.');
      return undefined;
    }
    let claims: AccessTokenClaims;
    try {
      claims = await options.identity.verifyToken(token);
    } catch (error) {
      challenge(response, `Token validation failed: ${(error as Error).message}`);
      return undefined;
    }
    if (claims.aud !== vaultAudience) {
      challenge(response, `AKV10022: Invalid audience. Expected ${vaultAudience}, found: ${claims.aud}.`);
      return undefined;
    }
    if (claims.tid !== options.tenantId) {
      challenge(
        response,
        `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${options.tenantId}/, found: ${claims.iss}.`,
      );
      return undefined;
    }
    return claims;
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestUrl = new URL(request.url ?? '/', url);
    const [, collection, name = '', version = ''] = requestUrl.pathname.split('/');
    const writing = request.method === 'PUT' && !version;
    if ((request.method !== 'GET' && !writing) || collection !== 'secrets' || !name) {
      return vaultError(response, 404, {
        code: 'NotFound',
        message: `${request.method} ${requestUrl.pathname} is not served by the stand-in.`,
      });
    }
    if (outage.remaining > 0) {
      outage.remaining -= 1;
      const code = outage.status === 429 ? 'Throttled' : 'ServiceUnavailable';
      const retryAfter = {
        'retry-after': '1',
        ...(outage.retryAfterInMs === undefined ? {} : { 'x-ms-retry-after-ms': String(outage.retryAfterInMs) }),
      };
      return vaultError(
        response,
        outage.status,
        { code, message: 'The service is temporarily unavailable. Please retry later.' },
        retryAfter,
      );
    }
    if (!requestUrl.searchParams.get('api-version')) {
      return vaultError(response, 400, {
        code: 'BadParameter',
        message: 'The api-version query parameter is required.',
      });
    }
    const claims = await authenticate(request, response);
    if (!claims) return;
    if (writing) return writeSecret(request, response, claims, name);
    if (denied || !granted.has(claims.oid)) {
      return vaultError(response, 403, {
        code: 'Forbidden',
        message: `The user, group or application 'appid=${claims.appid};oid=${claims.oid};iss=${claims.iss}' does not have secrets get permission on key vault '${vaultName};location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`,
        innerError: { code: 'AccessDenied' },
      });
    }
    const versions = secrets.get(name.toLowerCase()) ?? [];
    const found = version ? versions.find((v) => v.version === version) : versions.at(-1);
    if (!found) {
      return vaultError(response, 404, {
        code: 'SecretNotFound',
        message: `A secret with (name/id) ${version ? `${name}/${version}` : name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      });
    }
    reads += 1;
    sendJson(response, 200, {
      value: found.value,
      ...(found.contentType ? { contentType: found.contentType } : {}),
      id: `${url}/secrets/${name}/${found.version}`,
      ...(found.certificate ? { kid: `${url}/keys/${name}/${found.version}`, managed: true } : {}),
      attributes: {
        enabled: true,
        ...(found.expiresOn ? { exp: Math.floor(found.expiresOn.getTime() / 1000) } : {}),
        created: found.created,
        updated: found.created,
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 90,
      },
      tags: {},
    });
  }

  /** `PUT /secrets/{name}` with `{ value, attributes: { exp } }`, as SecretClient.setSecret sends it. */
  async function writeSecret(
    request: IncomingMessage,
    response: ServerResponse,
    claims: AccessTokenClaims,
    name: string,
  ): Promise<void> {
    if (denied || !writers.has(claims.oid)) {
      return vaultError(response, 403, {
        code: 'Forbidden',
        message: `Caller is not authorized to perform action on resource. Caller: appid=${claims.appid};oid=${claims.oid}. Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'`,
        innerError: { code: 'ForbiddenByRbac' },
      });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body: { value?: unknown; attributes?: { exp?: unknown } };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      return vaultError(response, 400, { code: 'BadParameter', message: 'The request body is not JSON.' });
    }
    if (typeof body.value !== 'string' || !/^[0-9a-zA-Z-]{1,127}$/.test(name)) {
      return vaultError(response, 400, {
        code: 'BadParameter',
        message: 'A secret needs a name of letters, digits and dashes, and a string value.',
      });
    }
    const exp = typeof body.attributes?.exp === 'number' ? new Date(body.attributes.exp * 1000) : undefined;
    const { version } = store(name, body.value, exp ? { expiresOn: exp } : {});
    sendJson(response, 200, {
      value: body.value,
      id: `${url}/secrets/${name}/${version}`,
      attributes: {
        enabled: true,
        ...(exp ? { exp: body.attributes!.exp } : {}),
        created: Math.floor(Date.now() / 1000),
        updated: Math.floor(Date.now() / 1000),
      },
      tags: {},
    });
  }

  function store(name: string, value: string, input: SecretVersionInput): { version: string } {
    const version = randomBytes(16).toString('hex');
    const versions = secrets.get(name.toLowerCase()) ?? [];
    versions.push({ version, value, created: Math.floor(Date.now() / 1000), ...input });
    secrets.set(name.toLowerCase(), versions);
    everSeen.add(value);
    return { version };
  }

  const server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, handleWith(route));
  url = `https://127.0.0.1:${await listen(server)}`;

  return {
    url,
    get reads() {
      return reads;
    },
    setSecret(name, value, input = {}) {
      const { version } = store(name, value, input);
      return { id: `${url}/secrets/${name}/${version}`, version };
    },
    deleteSecret: (name) => void secrets.delete(name.toLowerCase()),
    currentValue: (name) => secrets.get(name.toLowerCase())?.at(-1)?.value,
    grantAccess: (objectId) => void granted.add(objectId),
    grantWrite: (objectId) => void writers.add(objectId),
    revokeAccess: (objectId) => void granted.delete(objectId),
    denyAccess(value) {
      denied = value;
    },
    failRequests(count, status = 503, retryAfterInMs) {
      outage = { remaining: count, status, retryAfterInMs };
    },
    knownSecrets: () => [...everSeen],
    rememberSecrets: (values) => values.forEach((v) => everSeen.add(v)),
    resetCounters() {
      reads = 0;
    },
    close: () => closeServer(server),
  };
}
