import { DefaultAzureCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { isAzureVault, type ExosendConfig } from '../config/load-config.js';
import { diagnose } from '../diagnosis/diagnose.js';
import { classifyVaultError } from '../diagnosis/classify.js';
import type { DiagnosisCode } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';

export interface ClientSecret {
  value: string;
  /** When the vault says the secret expires; undefined when no expiry is set. */
  expiresOn: Date | undefined;
  /** The secret's content type: a certificate's secret says `application/x-pem-file` or `application/x-pkcs12`. */
  contentType?: string | undefined;
}

export type SecretSourceOptions = Pick<
  ExosendConfig,
  'managedIdentityClientId' | 'tenantId' | 'clientId' | 'mailbox'
> & {
  keyVaultUrl: string;
  /** The vault secret to read: the client secret's, or the certificate's (a certificate is read through its secret). */
  secretName: string;
  /** What a missing secret is called: a certificate's has a diagnosis of its own. */
  notFound?: Extract<DiagnosisCode, 'VAULT_SECRET_NOT_FOUND' | 'VAULT_CERTIFICATE_NOT_FOUND'>;
};

export function requiredVault(keyVaultUrl: string | undefined): string {
  // loadConfig refuses a missing vault URL for every credential that reads the vault
  if (keyVaultUrl === undefined) throw new Error('EXOSEND_KEY_VAULT_URL is not set');
  return keyVaultUrl;
}

/**
 * The app's client secret, read from Key Vault once per process with the Function App's managed
 * identity (DefaultAzureCredential; a user-assigned one through AZURE_CLIENT_ID).
 * Concurrent callers share one read; `refresh()` reads again, for a secret rotated in the vault.
 */
export class SecretSource {
  private readonly client: SecretClient;
  private current: Promise<ClientSecret> | undefined;
  private currentSince = 0;

  constructor(private readonly options: SecretSourceOptions) {
    const credential = new DefaultAzureCredential(
      options.managedIdentityClientId ? { managedIdentityClientId: options.managedIdentityClientId } : {},
    );
    this.client = new SecretClient(options.keyVaultUrl, credential, {
      disableChallengeResourceVerification: !isAzureVault(options.keyVaultUrl),
    });
  }

  /** The cached secret; read again when it is older than `maxAgeInMs` (the health check's view of a rotation). */
  get(options: { maxAgeInMs?: number } = {}): Promise<ClientSecret> {
    const fresh = options.maxAgeInMs === undefined || Date.now() - this.currentSince <= options.maxAgeInMs;
    return (fresh && this.current) || this.startRead();
  }

  /** Reads the vault again, unless another caller already did and got a value other than `stale`. */
  async refresh(stale: ClientSecret): Promise<ClientSecret> {
    const current = this.current;
    const latest = current && (await current.catch(() => undefined));
    if (latest && latest.value !== stale.value) return latest;
    return this.current === current ? this.startRead() : this.get();
  }

  private startRead(): Promise<ClientSecret> {
    const reading = this.read();
    this.current = reading;
    this.currentSince = Date.now();
    // a failed read is not kept: the next send reads again
    reading.catch(() => {
      if (this.current === reading) this.current = undefined;
    });
    return reading;
  }

  private async read(): Promise<ClientSecret> {
    try {
      const secret = await this.client.getSecret(this.options.secretName);
      if (!secret.value)
        throw Object.assign(new Error('The secret has no value.'), { statusCode: 404, code: 'SecretNotFound' });
      return {
        value: secret.value,
        expiresOn: secret.properties.expiresOn,
        contentType: secret.properties.contentType,
      };
    } catch (error) {
      const { keyVaultUrl: vaultUrl, secretName, tenantId, clientId, mailbox, notFound } = this.options;
      const certificate = notFound === 'VAULT_CERTIFICATE_NOT_FOUND' ? { certificateName: secretName } : {};
      const context = { vaultUrl, secretName, tenantId, clientId, mailbox, ...certificate };
      const diagnosis = classifyVaultError(error, context);
      if (!notFound || diagnosis.code !== 'VAULT_SECRET_NOT_FOUND') throw new DeliveryFailed(diagnosis);
      throw new DeliveryFailed(
        diagnose(notFound, context, { stage: 'vault', ...(diagnosis.smtp ? { smtp: diagnosis.smtp } : {}) }),
      );
    }
  }
}
