// The vault's copy of a certificate, in each form Key Vault and the tools that fill it write:
// PEM (key first or last), PKCS#12 with an empty password or none, 3DES or AES, with and without its key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import forge from 'node-forge';
import { CertificateUnreadable, readCertificateSecret } from '../src/auth/certificate-material.js';
import { certificateSecretValue, issueClientCertificate } from '../local/sandbox/pki.js';

const cert = issueClientCertificate({ subject: 'material' });
const pkcs12 = (password: string | null, algorithm: '3des' | 'aes256', withKey = true) => {
  const key = withKey ? forge.pki.privateKeyFromPem(cert.keyPem) : null;
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, [forge.pki.certificateFromPem(cert.certPem)], password, { algorithm });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary').toString('base64');
};

describe('a certificate read from its Key Vault secret', () => {
  const forms: [string, string, string | undefined][] = [
    ['PEM, key then certificate', `${cert.keyPem}${cert.certPem}`, 'application/x-pem-file'],
    ['PEM, certificate then key', `${cert.certPem}${cert.keyPem}`, 'application/x-pem-file'],
    ['PEM without a content type', `${cert.keyPem}${cert.certPem}`, undefined],
    ['PKCS#12, empty password, 3DES', pkcs12('', '3des'), 'application/x-pkcs12'],
    ['PKCS#12, no password at all, 3DES', pkcs12(null, '3des'), 'application/x-pkcs12'],
    ['PKCS#12, empty password, AES-256', pkcs12('', 'aes256'), 'application/x-pkcs12'],
  ];
  for (const [name, value, contentType] of forms) {
    it(`when the secret is ${name}, then the key, the certificate, its dates and thumbprint come out`, () => {
      const material = readCertificateSecret(value, contentType);
      assert.ok(material.keyPem?.startsWith('-----BEGIN PRIVATE KEY-----'));
      assert.ok(material.certPem.startsWith('-----BEGIN CERTIFICATE-----'));
      assert.equal(material.thumbprint, cert.thumbprint);
      assert.equal(material.notAfter.getTime(), cert.notAfter.getTime());
      assert.equal(material.notBefore.getTime(), cert.notBefore.getTime());
    });
  }

  it('when the secret holds the certificate only, then there is no key to sign with', () => {
    assert.equal(
      readCertificateSecret(certificateSecretValue(cert, 'pem', false), 'application/x-pem-file').keyPem,
      undefined,
    );
    assert.equal(readCertificateSecret(pkcs12('', '3des', false), 'application/x-pkcs12').keyPem, undefined);
  });

  it('when the key belongs to another certificate, then the secret is refused', () => {
    const other = issueClientCertificate();
    assert.throws(
      () => readCertificateSecret(`${other.keyPem}${cert.certPem}`, 'application/x-pem-file'),
      CertificateUnreadable,
    );
  });

  it('when the secret is a password-protected PKCS#12 or no certificate at all, then the error says so without the value', () => {
    const value = pkcs12('s3cret-pfx-password', '3des');
    assert.throws(
      () => readCertificateSecret(value, 'application/x-pkcs12'),
      (e: Error) => e instanceof CertificateUnreadable && !e.message.includes(value.slice(0, 20)),
    );
    assert.throws(() => readCertificateSecret('not a certificate', 'application/x-pem-file'), /no certificate/);
  });
});
