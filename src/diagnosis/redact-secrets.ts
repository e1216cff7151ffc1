/** A reply longer than this is cut: a diagnosis, a log line or a record stays small. */
const maxReplyLength = 500;

/** Removes what must never leave the process: secrets, tokens, JWTs, XOAUTH2 blobs. */
export function redactSecrets(text: string): string {
  const cleaned = text
    .replace(
      /\b(client_secret|client_assertion|access_token|refresh_token|id_token|password)(["']?\s*[:=]\s*["']?)[^\s"'&,;}]+/gi,
      '$1$2[redacted]',
    )
    .replace(/\b(Bearer)\s+[\w.~+/=-]+/gi, '$1 [redacted]')
    .replace(/eyJ[\w-]*\.[\w-]+\.[\w-]*/g, '[redacted JWT]')
    .replace(/dXNlcj[\w+/=]{8,}/g, '[redacted XOAUTH2]');
  return cleaned.length > maxReplyLength ? `${cleaned.slice(0, maxReplyLength)}...` : cleaned;
}
