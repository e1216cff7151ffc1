import type { ExosendConfig } from '../config/load-config.js';
import type { AppCredential } from './app-credential.js';
import type { SecretSeam } from './client-secret-credential.js';
import type { SecretSource } from './secret-source.js';

/** Lets a caller watch each vault read (the doctor learns the values it must never print). */
export type SecretSeamWrapper = (seam: SecretSeam) => SecretSeam;

/**
 * The credential EXOSEND_CREDENTIAL names, with its own vault read (none for `federated`). Its
 * module loads on first use, with the Azure SDKs it needs (the identity library and MSAL; node-forge
 * for a certificate): a cold start loads none of them before a trigger asks for a token, and a
 * worker loads only the kind it uses.
 */
export function createAppCredential(config: ExosendConfig, wrap: SecretSeamWrapper = (s) => s): AppCredential {
  let loaded: Promise<AppCredential> | undefined;
  const credential = () => {
    if (!loaded) {
      loaded = load(config, wrap);
      // one that could not be made (its module, its vault client) is made again at the next use
      loaded.catch(() => (loaded = undefined));
    }
    return loaded;
  };
  return {
    kind: config.credential,
    prepare: async (options) => (await credential()).prepare(options),
    requestToken: async (scope) => (await credential()).requestToken(scope),
  };
}

async function load(config: ExosendConfig, wrap: SecretSeamWrapper): Promise<AppCredential> {
  switch (config.credential) {
    case 'secret': {
      const [{ ClientSecretAppCredential }, secrets] = await Promise.all([
        import('./client-secret-credential.js'),
        vaultSecret(config, config.clientSecretName, 'VAULT_SECRET_NOT_FOUND'),
      ]);
      return new ClientSecretAppCredential(config, wrap(secrets));
    }
    case 'certificate': {
      const [{ ClientCertificateAppCredential }, secrets] = await Promise.all([
        import('./client-certificate-credential.js'),
        vaultSecret(config, config.clientCertificateName, 'VAULT_CERTIFICATE_NOT_FOUND'),
      ]);
      return new ClientCertificateAppCredential(config, wrap(secrets));
    }
    case 'federated': {
      const { FederatedAppCredential } = await import('./federated-credential.js');
      return new FederatedAppCredential(config);
    }
  }
}

async function vaultSecret(
  config: ExosendConfig,
  secretName: string,
  notFound: 'VAULT_SECRET_NOT_FOUND' | 'VAULT_CERTIFICATE_NOT_FOUND',
): Promise<SecretSource> {
  const { requiredVault, SecretSource } = await import('./secret-source.js');
  return new SecretSource({ ...config, keyVaultUrl: requiredVault(config.keyVaultUrl), secretName, notFound });
}
