import type { ExosendConfig } from '../config/load-config.js';
import type { MailRequest } from '../mail/mail-request.js';
import { decodeUtf8Body, maxBodyBytes, parseMailRequest } from '../mail/parse-request.js';
import { RequestRejected } from '../mail/request-rejected.js';

/** What is read of an HTTP request: the host's HttpRequest has it, as does a fetch Request. */
export interface HttpRequestBody {
  headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * Reads and checks the mail request in an HTTP body: JSON in UTF-8 only (415 otherwise), and a body
 * too large is refused before it is read.
 */
export async function readMailRequest(
  request: HttpRequestBody,
  config: Pick<ExosendConfig, 'allowedSenders'>,
): Promise<MailRequest> {
  if (!isJsonInUtf8(request.headers.get('content-type'))) {
    throw new RequestRejected(
      'UNSUPPORTED_MEDIA_TYPE',
      'The request body must be JSON: send Content-Type: application/json (UTF-8).',
      [{ path: '', message: 'Content-Type must be application/json, with no charset or charset=utf-8' }],
    );
  }
  const declared = Number(request.headers.get('content-length'));
  if (declared > maxBodyBytes) {
    throw new RequestRejected(
      'MESSAGE_TOO_LARGE',
      'The request body exceeds the largest message Exchange Online accepts.',
    );
  }
  return parseMailRequest(decodeUtf8Body(new Uint8Array(await request.arrayBuffer())), config);
}

/** `application/json`, optionally with `charset=utf-8` (any case, quoted or not); no other media type or charset. */
export function isJsonInUtf8(contentType: string | null): boolean {
  if (contentType === null) return false;
  const [type, ...parameters] = contentType.split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return parameters.every((parameter) => {
    const [name, value = ''] = parameter.split('=').map((s) => s.trim());
    return name !== 'charset' || value.replace(/^"(.*)"$/, '$1') === 'utf-8';
  });
}
