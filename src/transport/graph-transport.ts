import type { MailboxBudget } from '../budget/budget.js';
import type { ExosendConfig } from '../config/load-config.js';
import { classifyGraphOutcome } from '../diagnosis/classify.js';
import { withBccHeader, type ComposedMail } from '../mail/mime.js';
import { RequestRejected } from '../mail/request-rejected.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import { GraphError, type GraphClient } from './graph-client.js';
import { NothingSent, sendThroughDraft } from './graph-upload-send.js';
import type { Delivery, MailTransport, SendOptions } from './mail-transport.js';

/**
 * Microsoft Graph refuses a request above about 4 MB (the sendMail page's MIME section and
 * concepts/outlook-large-attachments.md in microsoftgraph/microsoft-graph-docs-contrib: "4 MB" for
 * one request; larger messages go through a draft and an upload session). The posted body is the
 * base64 of the MIME: this counts that.
 */
export const graphSendMailLimitInBytes = 4 * 1024 * 1024;

const defaultWaitInMs = 30_000;

/**
 * Outlook service limits (microsoftgraph/microsoft-graph-docs-contrib, concepts/throttling-limits.md,
 * "Outlook service limits"): 10,000 API requests in a 10 minute period per app per mailbox. The
 * mailbox's minute (30 messages) binds long before it; it is counted to be shown, not enforced.
 */
export const graphRequestsPerWindow = 10_000;
export const graphRequestWindowInMs = 10 * 60 * 1000;

/** The Graph side of a mailbox's budget, as /api/health shows it. */
export interface GraphRequestUsage {
  /** Requests this instance made for the mailbox in the last 10 minutes (Graph counts every instance's: each shows its own). */
  requestsPer10Minutes: { used: number; limit: number; windowSeconds: number; scope: 'local' };
}

export type GraphTransportOptions = Pick<ExosendConfig, 'mailbox' | 'tenantId' | 'clientId' | 'rolesMode'> & {
  /** The mailbox's budget, shared with its SMTP transport: Exchange's 30 a minute and 10,000 recipients a day hold either way. */
  budget: MailboxBudget;
  /** The app's Graph concurrency (Outlook service limits: 4 requests at once per app), shared by every mailbox and instance. */
  concurrency: MailboxBudget;
  /** The Graph token's scope, for a diagnosis that names it. */
  scope: string;
};

/**
 * One mailbox's way through Microsoft Graph: `POST /v1.0/users/{mailbox}/sendMail` with the
 * base64 of the MIME composed once (above 4 MB: a draft, upload sessions and its send) (Content-Type text/plain, as the sendMail page asks). The
 * mailbox in the URL is the one that sends, so its copy lands in its own Sent Items, as on SMTP.
 * 202 means accepted for sending: never sent again, whatever follows.
 */
export class GraphTransport implements MailTransport {
  readonly kind = 'graph';
  readonly budget: MailboxBudget;
  /** The app's Graph requests in flight, shared by every mailbox and instance. */
  readonly concurrency: MailboxBudget;
  /** When this instance's recent requests for the mailbox went out, oldest first. */
  private readonly requestTimes: number[] = [];

  constructor(
    private readonly options: GraphTransportOptions,
    private readonly client: GraphClient,
  ) {
    this.budget = options.budget;
    this.concurrency = options.concurrency;
  }

  requestUsage(now = Date.now()): GraphRequestUsage {
    while (this.requestTimes.length > 0 && this.requestTimes[0]! <= now - graphRequestWindowInMs)
      this.requestTimes.shift();
    return {
      requestsPer10Minutes: {
        used: this.requestTimes.length,
        limit: graphRequestsPerWindow,
        windowSeconds: graphRequestWindowInMs / 1000,
        scope: 'local',
      },
    };
  }

  async send(mail: ComposedMail, options: SendOptions = {}): Promise<Delivery> {
    const body = withBccHeader(mail).toString('base64');
    // above sendMail's limit: a draft and upload sessions (graph-upload-send.ts), still one message
    // of the budget, holding the concurrency lease for the whole sequence
    const viaDraft = Buffer.byteLength(body) > graphSendMailLimitInBytes;
    const deadline = Date.now() + (options.waitUpToMs ?? defaultWaitInMs);
    const lease = await this.options.concurrency.takeConnection('send', {
      waitUpToMs: Math.max(0, deadline - Date.now()),
    });
    try {
      const permit = await this.budget.takeSend(mail.recipients, {
        waitUpToMs: Math.max(0, deadline - Date.now()),
        ...(options.caller && { caller: options.caller }),
      });
      let accepted = true;
      try {
        const counted = () => {
          this.requestUsage(); // drops what left the window, so the list stays short
          this.requestTimes.push(Date.now());
        };
        const { mailbox, clientId, rolesMode } = this.options;
        const response = viaDraft
          ? await sendThroughDraft(mail, {
              client: this.client,
              mailbox,
              clientId,
              rolesMode,
              requestLimitInBytes: graphSendMailLimitInBytes,
              onRequest: counted,
            })
          : (counted(),
            `${(await this.client.request({ method: 'POST', path: `/v1.0/users/${encodeURIComponent(mailbox)}/sendMail`, contentType: 'text/plain', body })).status} Accepted`);
        return {
          messageId: mail.messageId,
          accepted: [...mail.envelope.to],
          rejected: [],
          response,
          transport: 'graph',
        };
      } catch (error) {
        // an answer with a status refused the message; no answer (or a gateway timeout) may have sent it;
        // the draft path's steps before its send never send anything
        accepted = !(
          error instanceof RequestRejected ||
          error instanceof NothingSent ||
          (error instanceof GraphError && error.status !== undefined && error.status !== 504)
        );
        throw this.failure(error instanceof NothingSent ? error.cause : error, mail);
      } finally {
        permit.release(accepted);
      }
    } finally {
      // a release that fails leaves the lease to lapse on its own (within 15 s)
      void lease.release().catch(() => undefined);
    }
  }

  close(): void {
    this.budget.close();
    // shared by the app's Graph transports, which all close together; closing twice is harmless
    this.options.concurrency.close();
  }

  /** A Graph request holds its concurrency lease only while it runs, so nothing outlives a stop. */
  stop(): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  private failure(error: unknown, mail: ComposedMail): unknown {
    if (error instanceof DeliveryFailed || !(error instanceof GraphError)) return error;
    const { mailbox, tenantId, clientId, scope } = this.options;
    return new DeliveryFailed(
      classifyGraphOutcome(error.outcome(), { mailbox, tenantId, clientId, scope, from: mail.from || mailbox }),
    );
  }
}
