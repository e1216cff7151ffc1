import type { AccessToken } from '@azure/identity';
import type { CredentialKind } from '../config/load-config.js';

/** What a credential knows about itself before it is used: never the secret or the key. */
export interface CredentialState {
  kind: CredentialKind;
  /** When the credential stops working: a secret's expiry in the vault, a certificate's notAfter. */
  expiresOn?: Date | undefined;
  /** A certificate's notBefore and SHA-1 thumbprint (as Entra's Certificates & secrets shows it). */
  notBefore?: Date | undefined;
  thumbprint?: string | undefined;
}

/**
 * The seam between exosend and the kind of credential its app registration uses: a client secret
 * or a certificate read from Key Vault, or the Function App's managed identity as a federated
 * credential. The token cache, the claims check and everything after them see only this.
 */
export interface AppCredential {
  readonly kind: CredentialKind;
  /**
   * Reads what the credential needs (the vault's secret or certificate, once per process) and
   * checks what can be checked locally (a certificate's dates); a federated one reads nothing.
   * `maxAgeInMs`: read the vault again when the cached copy is older (the health check's view of a rotation).
   */
  prepare(options?: { maxAgeInMs?: number }): Promise<CredentialState>;
  /** Asks Entra for a new app-only token for the scope. Never answers from a cache. */
  requestToken(scope: string): Promise<AccessToken>;
}
