import type { TokenProvider } from '../auth/token-provider.js';
import { composeMessage } from '../mail/compose.js';
import type { MailRequest } from '../mail/mail-request.js';
import type { Delivery, MailboxTransport } from '../transport/mailbox-transport.js';

export interface SendResult extends Delivery {
  id: string;
}

/** The one pipeline every trigger, the CLI and the local host call to send a validated request. */
export class MailSender {
  constructor(
    private readonly mailbox: string,
    private readonly tokens: TokenProvider,
    private readonly transport: MailboxTransport,
  ) {}

  async send(request: MailRequest, id: string): Promise<SendResult> {
    // From the cache when warm; a token Exchange would certainly refuse never reaches it.
    await this.tokens.getToken();
    const delivery = await this.transport.send(composeMessage(request, { id, mailbox: this.mailbox }));
    return { id, ...delivery };
  }
}
