import type { TokenProvider } from '../auth/token-provider.js';
import { composeMessage } from '../mail/compose.js';
import type { MailRequest } from '../mail/mail-request.js';
import { composeMime } from '../mail/mime.js';
import type { Delivery, MailTransport, SendOptions } from '../transport/mail-transport.js';

export interface SendResult extends Delivery {
  id: string;
  /** The mailbox that authenticated and sent it. */
  mailbox: string;
}

/** The one pipeline every trigger, the CLI and the local host call to send a validated request. */
export class MailSender {
  private readonly transports: ReadonlyMap<string, MailTransport>;

  constructor(
    private readonly mailbox: string,
    /** The token the transport needs, checked before anything is composed; undefined when each transport gets its own (`auto`). */
    private readonly tokens: TokenProvider | undefined,
    transports: ReadonlyMap<string, MailTransport> | MailTransport,
  ) {
    this.transports = transports instanceof Map ? transports : new Map([[mailbox, transports as MailTransport]]);
  }

  /**
   * A From that is a mailbox of exosend's authenticates as itself (its own budget, its own Sent
   * Items); any other allowed sender goes through the default mailbox, with its Send As right.
   */
  mailboxFor(request: Pick<MailRequest, 'from'>): string {
    const from = request.from?.toLowerCase();
    return from && this.transports.has(from) ? from : this.mailbox;
  }

  async send(request: MailRequest, id: string, options: SendOptions = {}): Promise<SendResult> {
    // From the cache when warm; a token Exchange or Graph would certainly refuse never reaches it.
    await this.tokens?.getToken();
    const mailbox = this.mailboxFor(request);
    // composed once: whichever way it goes (SMTP, Graph, or Graph after SMTP), these are the bytes
    const mail = await composeMime(composeMessage(request, { id, mailbox }));
    const delivery = await this.transports.get(mailbox)!.send(mail, options);
    return { id, mailbox, ...delivery };
  }
}
