import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** A certificate as the app signs with it: what @azure/identity's ClientCertificateCredential takes, and its dates. */
export interface CertificateMaterial {
  /** The certificate (and the rest of its chain, if the vault holds one), PEM. */
  certPem: string;
  /** PKCS#8 PEM; undefined when the vault's copy holds no private key. */
  keyPem: string | undefined;
  notBefore: Date;
  notAfter: Date;
  /** SHA-1 of the DER certificate, hex, as Entra's Certificates & secrets blade shows it. */
  thumbprint: string;
}

export const pemContentType = 'application/x-pem-file';
export const pkcs12ContentType = 'application/x-pkcs12';

/** The secret is neither a PEM nor a PKCS#12 certificate: its message says which, never the value. */
export class CertificateUnreadable extends Error {
  override readonly name = 'CertificateUnreadable';
}

/**
 * A Key Vault certificate's secret, as the vault serves it: PEM (key and certificate) or a
 * password-less PKCS#12 in base64, as its content type says. ClientCertificateCredential takes PEM
 * only, so PKCS#12 is unpacked with node-forge (already the sandbox's certificate library; Node's
 * crypto cannot read PKCS#12). The key goes back through Node, as PKCS#8, to be checked.
 */
export function readCertificateSecret(value: string, contentType: string | undefined): CertificateMaterial {
  const pem =
    contentType === pemContentType || (contentType !== pkcs12ContentType && value.trimStart().startsWith('-----BEGIN'));
  const { certs, keys } = pem ? fromPem(value) : fromPkcs12(value);
  if (certs.length === 0)
    throw new CertificateUnreadable(`the secret holds no certificate (content type ${contentType ?? 'not set'})`);
  const key = keys[0];
  // the leaf is the certificate of the private key; without a key, the first one
  const leaf = (key && certs.find((c) => samePublicKey(c, key))) ?? certs[0]!;
  if (key && !samePublicKey(leaf, key))
    throw new CertificateUnreadable('the private key in the secret belongs to none of its certificates');
  const chain = [leaf, ...certs.filter((c) => c !== leaf)];
  return {
    certPem: chain.map((c) => c.toString()).join(''),
    keyPem: key?.export({ type: 'pkcs8', format: 'pem' }).toString(),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    thumbprint: leaf.fingerprint.replace(/:/g, ''),
  };
}

interface Parts {
  certs: X509Certificate[];
  keys: KeyObject[];
}

function fromPem(value: string): Parts {
  const blocks = value.match(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
  const certs = blocks.filter((b) => b.startsWith('-----BEGIN CERTIFICATE-----')).map((b) => new X509Certificate(b));
  const keys = blocks.filter((b) => /^-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(b)).map((b) => createPrivateKey(b));
  if (blocks.some((b) => b.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----'))) {
    throw new CertificateUnreadable('the PEM holds an encrypted private key: Key Vault stores it unencrypted');
  }
  return { certs, keys };
}

function fromPkcs12(value: string): Parts {
  const p12 = openPkcs12(value);
  const bags = (type: string) => p12.getBags({ bagType: type })[type] ?? [];
  const keyBags = [...bags(forge.pki.oids.pkcs8ShroudedKeyBag ?? ''), ...bags(forge.pki.oids.keyBag ?? '')];
  const keys = keyBags.flatMap((b) => (b.key ? [createPrivateKey(forge.pki.privateKeyToPem(b.key))] : []));
  const certs = bags(forge.pki.oids.certBag ?? '').flatMap((b) =>
    b.cert ? [new X509Certificate(forge.pki.certificateToPem(b.cert))] : [],
  );
  return { certs, keys };
}

/**
 * Key Vault's PKCS#12 has no password, which tools write two ways: an empty password (OpenSSL,
 * .NET) or none at all; their integrity MACs differ, so both are tried, as OpenSSL does.
 */
function openPkcs12(value: string): forge.pkcs12.Pkcs12Pfx {
  let der: forge.asn1.Asn1;
  try {
    der = forge.asn1.fromDer(Buffer.from(value.trim(), 'base64').toString('binary'));
  } catch {
    throw new CertificateUnreadable('the secret is not a PKCS#12 file in base64, as Key Vault serves one');
  }
  for (const password of ['', null]) {
    try {
      return forge.pkcs12.pkcs12FromAsn1(der, false, password as string);
    } catch {
      // the other way, or a password-protected file
    }
  }
  throw new CertificateUnreadable('the secret is not a PKCS#12 file without a password, as Key Vault serves one');
}

function samePublicKey(cert: X509Certificate, key: KeyObject): boolean {
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  return spki(cert.publicKey).equals(spki(createPublicKey(key)));
}
