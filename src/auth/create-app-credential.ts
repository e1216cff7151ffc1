import type { ExosendConfig } from '../config/load-config.js';
import type { AppCredential } from './app-credential.js';
import { ClientCertificateAppCredential } from './client-certificate-credential.js';
import { ClientSecretAppCredential, type SecretSeam } from './client-secret-credential.js';
import { FederatedAppCredential } from './federated-credential.js';
import { requiredVault, SecretSource } from './secret-source.js';

/** Lets a caller watch each vault read (the doctor learns the values it must never print). */
export type SecretSeamWrapper = (seam: SecretSeam) => SecretSeam;

/** The credential EXOSEND_CREDENTIAL names, with its own vault read (none for `federated`). */
export function createAppCredential(config: ExosendConfig, wrap: SecretSeamWrapper = (s) => s): AppCredential {
  switch (config.credential) {
    case 'secret':
      return new ClientSecretAppCredential(config, wrap(vaultSecret(config, config.clientSecretName, 'VAULT_SECRET_NOT_FOUND')));
    case 'certificate':
      return new ClientCertificateAppCredential(config, wrap(vaultSecret(config, config.clientCertificateName, 'VAULT_CERTIFICATE_NOT_FOUND')));
    case 'federated':
      return new FederatedAppCredential(config);
  }
}

function vaultSecret(config: ExosendConfig, secretName: string, notFound: 'VAULT_SECRET_NOT_FOUND' | 'VAULT_CERTIFICATE_NOT_FOUND'): SecretSource {
  return new SecretSource({ ...config, keyVaultUrl: requiredVault(config.keyVaultUrl), secretName, notFound });
}
