import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { StorageConnection } from '../config/storage-connection.js';

/** The identity an identity-based storage connection names: one credential serves blobs, queues and tables. */
export function storageCredential(connection: Extract<StorageConnection, { kind: 'identity' }>): TokenCredential {
  const { clientId, resourceId } = connection;
  if (connection.credential === 'managedidentity') {
    return resourceId
      ? new ManagedIdentityCredential({ resourceId })
      : new ManagedIdentityCredential(clientId ? { clientId } : {});
  }
  if (resourceId) return new DefaultAzureCredential({ managedIdentityResourceId: resourceId });
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}
