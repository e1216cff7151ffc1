import { ClientSecretCredential, type AccessToken } from '@azure/identity';
import { isMicrosoftAuthority, type ExosendConfig } from '../config/load-config.js';
import { classifyIdentityError } from '../diagnosis/classify.js';
import type { Diagnosis } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import type { AppCredential, CredentialState } from './app-credential.js';
import type { ClientSecret, SecretSource } from './secret-source.js';
import { diagnoseUnknownTenant } from './unknown-tenant.js';

/** The vault read a credential needs: the cached value, and a second read after a refusal. */
export type SecretSeam = Pick<SecretSource, 'get' | 'refresh'>;

export type ClientSecretAppCredentialOptions = Pick<
  ExosendConfig,
  'tenantId' | 'clientId' | 'authorityHost' | 'mailbox' | 'keyVaultUrl' | 'clientSecretName'
>;

/** The app authenticates with a client secret that lives in Key Vault. */
export class ClientSecretAppCredential implements AppCredential {
  readonly kind = 'secret';

  constructor(
    private readonly options: ClientSecretAppCredentialOptions,
    private readonly secrets: SecretSeam,
  ) {}

  async requestToken(scope: string): Promise<AccessToken> {
    const secret = await this.secrets.get();
    try {
      return await this.requestWith(secret, scope);
    } catch (error) {
      const diagnosis = await this.diagnose(error, scope);
      if (diagnosis.code !== 'INVALID_CLIENT_SECRET' && diagnosis.code !== 'CLIENT_SECRET_EXPIRED')
        throw new DeliveryFailed(diagnosis);
      // Entra refused the secret we hold: it may have been rotated in the vault since we read it.
      const fresh = await this.secrets.refresh(secret);
      if (fresh.value === secret.value) throw new DeliveryFailed(diagnosis);
      try {
        return await this.requestWith(fresh, scope);
      } catch (retryError) {
        throw new DeliveryFailed(await this.diagnose(retryError, scope));
      }
    }
  }

  async prepare(options: { maxAgeInMs?: number } = {}): Promise<CredentialState> {
    return { kind: this.kind, expiresOn: (await this.secrets.get(options)).expiresOn };
  }

  /**
   * A credential per request: MSAL's own cache would hand back a token with under ten minutes
   * left, which Exchange may refuse. exosend's token cache decides when to renew, so it asks afresh.
   */
  private async requestWith(secret: ClientSecret, scope: string): Promise<AccessToken> {
    const { tenantId, clientId, authorityHost } = this.options;
    const credential = new ClientSecretCredential(tenantId, clientId, secret.value, {
      authorityHost,
      disableInstanceDiscovery: !isMicrosoftAuthority(authorityHost),
    });
    return credential.getToken(scope);
  }

  /** An unknown tenant hides behind MSAL's endpoints_resolution_error: ask the tenant's discovery document. */
  private async diagnose(error: unknown, scope: string): Promise<Diagnosis> {
    const { tenantId, clientId, mailbox, keyVaultUrl: vaultUrl, clientSecretName: secretName } = this.options;
    // the fixes for a refused secret name the vault and the secret to put the new one in
    const context = { tenantId, clientId, mailbox, scope, vaultUrl, secretName };
    return (await diagnoseUnknownTenant(error, this.options, context)) ?? classifyIdentityError(error, context);
  }
}
