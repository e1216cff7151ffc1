import type { HttpRequest } from '@azure/functions';
import type { ExosendConfig } from '../config.js';
import { mailLimits, type MailRequest } from '../mail/mail-request.js';
import { parseMailRequest } from '../mail/parse-request.js';
import { RequestRejected } from '../pipeline/errors.js';

/** Reads and checks the mail request in an HTTP body; a body too large is refused before it is read. */
export async function readMailRequest(request: HttpRequest, config: Pick<ExosendConfig, 'allowedSenders'>): Promise<MailRequest> {
  const declared = Number(request.headers.get('content-length'));
  if (declared > mailLimits.maxMessageBytes * 1.1) {
    throw new RequestRejected('MESSAGE_TOO_LARGE', 'The request body exceeds the largest message Exchange Online accepts.');
  }
  return parseMailRequest(await request.text(), config);
}
