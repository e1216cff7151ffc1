import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

/** PEM certificate and its private key: what a TLS server or a signing CA needs. */
export interface TlsMaterial {
  certPem: string;
  keyPem: string;
}

export type CertificateAuthority = TlsMaterial;

const caSubject = [
  { name: 'commonName', value: 'exosend sandbox CA' },
  { name: 'organizationName', value: 'exosend sandbox (local only)' },
];
const dayInMs = 24 * 60 * 60 * 1000;

/** Node generates RSA keys natively, much faster than forge's JavaScript implementation. */
function generateKeys(): { keyPem: string; publicKey: forge.pki.rsa.PublicKey } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}

/** What forge's cert.sign() does, with Node's RSA: forge only builds the structure. */
function signCertificate(cert: forge.pki.Certificate, signerKeyPem: string): string {
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption ?? '1.2.840.113549.1.1.11';
  cert.siginfo.algorithmOid = cert.signatureOid;
  // getTBSCertificate is public in forge but missing from @types/node-forge.
  const { getTBSCertificate } = forge.pki as unknown as {
    getTBSCertificate(this: void, c: forge.pki.Certificate): forge.asn1.Asn1;
  };
  const tbs = forge.asn1.toDer(getTBSCertificate(cert)).getBytes();
  cert.signature = sign('sha256', Buffer.from(tbs, 'binary'), signerKeyPem).toString('binary');
  return forge.pki.certificateToPem(cert);
}

function newCertificate(publicKey: forge.pki.rsa.PublicKey, validDays: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive serial: the high bit of the first byte must be clear.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - dayInMs);
  cert.validity.notAfter = new Date(Date.now() + validDays * dayInMs);
  return cert;
}

export function createCertificateAuthority(): CertificateAuthority {
  const keys = generateKeys();
  const cert = newCertificate(keys.publicKey, 3650);
  cert.setSubject(caSubject);
  cert.setIssuer(caSubject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return { certPem: signCertificate(cert, keys.keyPem), keyPem: keys.keyPem };
}

export function issueServerCertificate(
  ca: CertificateAuthority,
  hosts: string[] = ['127.0.0.1', 'localhost'],
): TlsMaterial {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const keys = generateKeys();
  const cert = newCertificate(keys.publicKey, 365);
  cert.setSubject([{ name: 'commonName', value: hosts[0] ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host })),
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  return { certPem: signCertificate(cert, ca.keyPem), keyPem: keys.keyPem };
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** A CA that expires within a month is replaced, so a long-lived checkout never fails on an old one. */
function isUsable(certPem: string): boolean {
  return new Date(new X509Certificate(certPem).validTo).getTime() > Date.now() + 30 * dayInMs;
}

/**
 * `ca.pem` must exist before any process that trusts it starts (NODE_EXTRA_CA_CERTS is read
 * once, at start-up), so the CA lives on disk and is reused across runs.
 */
export async function loadOrCreateCertificateAuthority(dir: string): Promise<CertificateAuthority & { path: string }> {
  const certPath = join(dir, 'ca.pem');
  const keyPath = join(dir, 'ca-key.pem');
  const [certPem, keyPem] = await Promise.all([readIfPresent(certPath), readIfPresent(keyPath)]);
  if (certPem && keyPem && isUsable(certPem)) return { certPem, keyPem, path: certPath };

  await mkdir(dir, { recursive: true });
  const ca = createCertificateAuthority();
  const suffix = `.${process.pid}.tmp`;
  await writeFile(keyPath + suffix, ca.keyPem, { mode: 0o600 });
  await writeFile(certPath + suffix, ca.certPem);
  // Key first, certificate last: a reader that finds ca.pem also finds its key.
  await rename(keyPath + suffix, keyPath);
  await rename(certPath + suffix, certPath);
  return { ...ca, path: certPath };
}

/** An app registration's certificate: what the vault holds (PEM or PKCS#12) and what Entra holds (the public part). */
export interface ClientCertificate extends TlsMaterial {
  /** PKCS#12 without a password, base64, as Key Vault serves a certificate's secret in `application/x-pkcs12`. */
  pfxBase64: string;
  /** SHA-1 and SHA-256 of the DER certificate, hex upper case, as Entra lists them. */
  thumbprint: string;
  thumbprintSha256: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ClientCertificateOptions {
  subject?: string;
  notBefore?: Date;
  notAfter?: Date;
}

/** A self-signed certificate for client assertions, as `az keyvault certificate create` makes one by default. */
export function issueClientCertificate(options: ClientCertificateOptions = {}): ClientCertificate {
  const { keyPem, publicKey } = generateKeys();
  const cert = newCertificate(publicKey, 365);
  if (options.notBefore) cert.validity.notBefore = options.notBefore;
  if (options.notAfter) cert.validity.notAfter = options.notAfter;
  const subject = [{ name: 'commonName', value: options.subject ?? 'exosend' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true, serverAuth: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  const certPem = signCertificate(cert, keyPem);
  const x509 = new X509Certificate(certPem);
  // Key Vault's PKCS#12 opens with an empty password (`openssl pkcs12 -passin pass:`)
  const pfx = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(keyPem),
    [forge.pki.certificateFromPem(certPem)],
    '',
    { algorithm: '3des' },
  );
  return {
    certPem,
    keyPem,
    pfxBase64: Buffer.from(forge.asn1.toDer(pfx).getBytes(), 'binary').toString('base64'),
    thumbprint: x509.fingerprint.replace(/:/g, ''),
    thumbprintSha256: x509.fingerprint256.replace(/:/g, ''),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  };
}

export type CertificateFormat = 'pem' | 'pkcs12';

/** Key Vault's content types for a certificate's secret. */
export const certificateContentTypes: Record<CertificateFormat, string> = {
  pem: 'application/x-pem-file',
  pkcs12: 'application/x-pkcs12',
};

/**
 * What a GET of a certificate's secret returns: the private key and the certificate, as PEM or as
 * a password-less PKCS#12 in base64. Without the key: only the certificate, as a vault serves a
 * certificate imported without its private key.
 */
export function certificateSecretValue(
  cert: ClientCertificate,
  format: CertificateFormat,
  withPrivateKey = true,
): string {
  if (format === 'pem') return withPrivateKey ? `${cert.keyPem}${cert.certPem}` : cert.certPem;
  if (withPrivateKey) return cert.pfxBase64;
  const pfx = forge.pkcs12.toPkcs12Asn1(null, [forge.pki.certificateFromPem(cert.certPem)], '', { algorithm: '3des' });
  return Buffer.from(forge.asn1.toDer(pfx).getBytes(), 'binary').toString('base64');
}

/**
 * A private key as it could leak: its PEM (PKCS#8 and PKCS#1), the base64 of its DER on one line,
 * each 64-character PEM line (a log that splits lines would show those), and the PKCS#12 file.
 */
export function privateKeyForms(cert: ClientCertificate): string[] {
  const key = createPrivateKey(cert.keyPem);
  const pkcs1 = key.export({ type: 'pkcs1', format: 'pem' }).toString();
  const bodies = [cert.keyPem, pkcs1].map((pem) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''));
  const lines = [cert.keyPem, pkcs1].flatMap((pem) => pem.split('\n').filter((l) => l.length >= 64));
  return [cert.keyPem.trim(), pkcs1.trim(), ...bodies, ...lines, cert.pfxBase64];
}
