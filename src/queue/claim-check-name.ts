/**
 * A claim-check blob's name, `<encoded id>.<digest>.json`: the request's id and the digest of its
 * content (src/mail/request-digest.ts, 43 base64url characters, never a dot). Read from the right,
 * the name gives back exactly one id and one digest, so no other id can claim it; a test of the
 * name's start would let id `a` read, send and delete the blob of id `a.b` (ids may hold dots).
 */
const digestPattern = /^[A-Za-z0-9_-]{43}$/;
const namePattern = /^([A-Za-z0-9._~%-]+)\.([A-Za-z0-9_-]{43})\.json$/;

/** The name of the blob that holds content of `digest` under `id`. */
export function claimCheckBlobName(id: string, digest: string): string {
  if (!digestPattern.test(digest)) throw new TypeError('a claim-check digest is 43 base64url characters');
  return `${encodeURIComponent(id)}.${digest}.json`;
}

/** The digest a claim-check blob's name holds, when it is exactly a name exosend writes for `id`. */
export function claimCheckDigestOf(id: string, blob: string): string | undefined {
  // no name exosend writes is longer (an app id and 128 characters of key, each at most 3 when encoded)
  if (blob.length > 3 * 165 + 49) return undefined;
  const match = namePattern.exec(blob);
  return match && match[1] === encodeURIComponent(id) ? match[2] : undefined;
}
