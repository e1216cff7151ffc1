import { ClientCertificateCredential, type AccessToken } from '@azure/identity';
import { isMicrosoftAuthority, type ExosendConfig } from '../config/load-config.js';
import { diagnose } from '../diagnosis/diagnose.js';
import { classifyIdentityError } from '../diagnosis/classify.js';
import type { Diagnosis, DiagnosisCode, DiagnosisContext } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import type { AppCredential, CredentialState } from './app-credential.js';
import { CertificateUnreadable, readCertificateSecret, type CertificateMaterial } from './certificate-material.js';
import type { SecretSeam } from './client-secret-credential.js';
import type { ClientSecret } from './secret-source.js';
import { diagnoseUnknownTenant } from './unknown-tenant.js';

export type ClientCertificateAppCredentialOptions = Pick<
  ExosendConfig,
  'tenantId' | 'clientId' | 'authorityHost' | 'mailbox' | 'keyVaultUrl' | 'clientCertificateName' | 'scope'
>;

/** Failures a new version of the certificate in the vault can cure: read the vault again, once. */
const curedByRotation: ReadonlySet<DiagnosisCode> = new Set([
  'CERTIFICATE_NOT_REGISTERED',
  'CERTIFICATE_EXPIRED',
  'CERTIFICATE_NOT_YET_VALID',
  'CERTIFICATE_NO_PRIVATE_KEY',
  // AADSTS700024, an assertion outside its time range: a certificate or clock matter
  'INVALID_CLIENT_SECRET',
]);

/**
 * The app signs a client assertion (RFC 7523) with its certificate, which lives in Key Vault as a
 * Key Vault certificate and is read through its secret (PEM or PKCS#12), once per process.
 * Its dates are checked here before Entra is asked, and the vault is read again after a refusal.
 */
export class ClientCertificateAppCredential implements AppCredential {
  readonly kind = 'certificate';
  private parsed: { value: string; material: CertificateMaterial } | undefined;

  constructor(
    private readonly options: ClientCertificateAppCredentialOptions,
    private readonly secrets: SecretSeam,
  ) {}

  async prepare(options: { maxAgeInMs?: number } = {}): Promise<CredentialState> {
    const material = this.usable(await this.secrets.get(options));
    return {
      kind: this.kind,
      expiresOn: material.notAfter,
      notBefore: material.notBefore,
      thumbprint: material.thumbprint,
    };
  }

  async requestToken(scope: string): Promise<AccessToken> {
    const secret = await this.secrets.get();
    try {
      return await this.requestWith(secret, scope);
    } catch (error) {
      const diagnosis = await this.diagnose(error, secret);
      if (!curedByRotation.has(diagnosis.code)) throw new DeliveryFailed(diagnosis);
      // Entra (or the local date check) refused the certificate we hold: the vault may have a new version
      const fresh = await this.secrets.refresh(secret);
      if (fresh.value === secret.value) throw new DeliveryFailed(diagnosis);
      try {
        return await this.requestWith(fresh, scope);
      } catch (retryError) {
        throw new DeliveryFailed(await this.diagnose(retryError, fresh));
      }
    }
  }

  /** A credential per request, as for secrets: exosend's token cache decides when to renew. */
  private async requestWith(secret: ClientSecret, scope: string): Promise<AccessToken> {
    const { certPem, keyPem } = this.usable(secret);
    const { tenantId, clientId, authorityHost } = this.options;
    const credential = new ClientCertificateCredential(
      tenantId,
      clientId,
      { certificate: `${keyPem}\n${certPem}` },
      {
        authorityHost,
        disableInstanceDiscovery: !isMicrosoftAuthority(authorityHost),
      },
    );
    return credential.getToken(scope);
  }

  /** The certificate, with its private key, valid now; else a diagnosis of what is wrong with the vault's copy. */
  private usable(secret: ClientSecret): CertificateMaterial & { keyPem: string } {
    const material = this.read(secret);
    const now = Date.now();
    const dates = `thumbprint ${material.thumbprint}: valid from ${material.notBefore.toISOString()} to ${material.notAfter.toISOString()}; now ${new Date(now).toISOString()}`;
    const fail = (code: DiagnosisCode) => new DeliveryFailed(diagnose(code, this.context(material), { smtp: dates }));
    if (material.notAfter.getTime() <= now) throw fail('CERTIFICATE_EXPIRED');
    if (material.notBefore.getTime() > now) throw fail('CERTIFICATE_NOT_YET_VALID');
    if (material.keyPem === undefined) {
      throw new DeliveryFailed(
        diagnose('CERTIFICATE_NO_PRIVATE_KEY', this.context(material), {
          smtp: "the certificate's secret holds the certificate only, no private key",
        }),
      );
    }
    return { ...material, keyPem: material.keyPem };
  }

  /** Parsed once per value: a warm worker does not unpack the PKCS#12 again for every token. */
  private read(secret: ClientSecret): CertificateMaterial {
    if (this.parsed?.value === secret.value) return this.parsed.material;
    try {
      const material = readCertificateSecret(secret.value, secret.contentType);
      this.parsed = { value: secret.value, material };
      return material;
    } catch (error) {
      const reason =
        error instanceof CertificateUnreadable ? error.message : 'the secret could not be read as a certificate';
      throw new DeliveryFailed(
        diagnose('CERTIFICATE_NO_PRIVATE_KEY', this.context(), { smtp: reason, stage: 'vault' }),
      );
    }
  }

  private async diagnose(error: unknown, secret: ClientSecret): Promise<Diagnosis> {
    if (error instanceof DeliveryFailed) return error.diagnosis;
    const material = this.parsed?.value === secret.value ? this.parsed.material : undefined;
    const context = this.context(material);
    return (await diagnoseUnknownTenant(error, this.options, context)) ?? classifyIdentityError(error, context);
  }

  private context(material?: CertificateMaterial): DiagnosisContext {
    const {
      tenantId,
      clientId,
      mailbox,
      scope,
      keyVaultUrl: vaultUrl,
      clientCertificateName: certificateName,
    } = this.options;
    return {
      tenantId,
      clientId,
      mailbox,
      scope,
      vaultUrl,
      certificateName,
      secretName: certificateName,
      ...(material && {
        thumbprint: material.thumbprint,
        notBefore: material.notBefore.toISOString(),
        notAfter: material.notAfter.toISOString(),
      }),
    };
  }
}
