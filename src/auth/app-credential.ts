import type { AccessToken } from '@azure/identity';

/**
 * The seam between exosend and the kind of credential its app registration uses. Today a client
 * secret read from Key Vault; a certificate or a federated managed identity is one more module.
 */
export interface AppCredential {
  /** Asks Entra for a new app-only token for the scope. Never answers from a cache. */
  requestToken(scope: string): Promise<AccessToken>;
  /** When the credential itself stops working (a secret's expiry in the vault), if known. */
  expiresOn(): Promise<Date | undefined>;
}
