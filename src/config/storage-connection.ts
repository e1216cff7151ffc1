import { ConfigError } from './config-error.js';

type Environment = Record<string, string | undefined>;

export type StorageService = 'blob' | 'queue' | 'table';

/**
 * How to reach the storage account, read as the Functions host reads a connection named
 * `AzureWebJobsStorage` (Microsoft Learn, "Connecting to host storage with an identity"):
 * - a value under the exact name is a connection string, and wins over any `__` setting;
 * - otherwise `<name>__<service>ServiceUri`, or else `<name>__accountName` (the account's
 *   public endpoints in Azure's cloud), with `__credential=managedidentity` and `__clientId` (or
 *   `__managedIdentityResourceId`) choosing the managed identity; without `__credential` the host
 *   uses the system-assigned identity in Azure and the developer's identity elsewhere.
 * Names are matched without regard to case, as the host's configuration does.
 */
export type StorageConnection =
  | { kind: 'connectionString'; connectionString: string }
  | {
      kind: 'identity';
      serviceUris: Record<StorageService, string>;
      /** `managedidentity`: that identity only; `default`: the Azure SDK's chain (managed identity, developer sign-in). */
      credential: 'managedidentity' | 'default';
      clientId: string | undefined;
      resourceId: string | undefined;
    };

const services: StorageService[] = ['blob', 'queue', 'table'];

/** The connection, or undefined when no form of it is set. Malformed identity settings throw a ConfigError naming them. */
export function readStorageConnection(env: Environment, name = 'AzureWebJobsStorage'): StorageConnection | undefined {
  const byLowerName = new Map<string, [string, string]>();
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') byLowerName.set(key.toLowerCase(), [key, value.trim()]);
  }
  const exact = env[name]?.trim();
  if (exact) return { kind: 'connectionString', connectionString: exact };
  const setting = (property: string) => byLowerName.get(`${name}__${property}`.toLowerCase())?.[1];
  const variable = (property: string) => `${name}__${property}`;

  const accountName = setting('accountName');
  const explicit = Object.fromEntries(
    services.map((s) => [s, setting(`${s}ServiceUri`) ?? (s === 'blob' ? setting('serviceUri') : undefined)]),
  );
  if (!accountName && services.every((s) => !explicit[s])) {
    return undefined;
  }
  const problems: { variable: string; message: string }[] = [];
  if (accountName && !/^[a-z0-9]{3,24}$/.test(accountName)) {
    problems.push({
      variable: variable('accountName'),
      message: 'must be a storage account name (3-24 lowercase letters and digits)',
    });
  }
  const serviceUris = {} as Record<StorageService, string>;
  for (const service of services) {
    const uri = explicit[service] ?? (accountName ? `https://${accountName}.${service}.core.windows.net` : undefined);
    if (!uri) {
      problems.push({
        variable: variable(`${service}ServiceUri`),
        message: `is required (or ${variable('accountName')}): exosend uses the ${service} service`,
      });
    } else if (!/^https:\/\/[^\s/]+/i.test(uri)) {
      problems.push({
        variable: variable(`${service}ServiceUri`),
        message: 'must be an https:// URL (a token is never sent in the clear)',
      });
    } else {
      serviceUris[service] = uri.replace(/\/+$/, '');
    }
  }
  const credential = setting('credential');
  if (credential !== undefined && credential.toLowerCase() !== 'managedidentity') {
    problems.push({ variable: variable('credential'), message: 'must be "managedidentity" (or unset)' });
  }
  const clientId = setting('clientId');
  const resourceId = setting('managedIdentityResourceId');
  if (clientId && resourceId) {
    problems.push({
      variable: variable('managedIdentityResourceId'),
      message: `cannot be set together with ${variable('clientId')}`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    kind: 'identity',
    serviceUris,
    credential: credential ? 'managedidentity' : 'default',
    clientId,
    resourceId,
  };
}

/** The message for a missing connection, naming both forms. */
export const storageRequired = (usedFor: string) =>
  `(a connection string) or AzureWebJobsStorage__queueServiceUri, __tableServiceUri and __blobServiceUri (or __accountName) is required for ${usedFor}`;
