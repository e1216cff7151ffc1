import type { MailboxBudget } from '../budget/budget.js';
import type { ComposedMail } from '../mail/mime.js';
import type { Diagnosis } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import type { GraphTransport } from './graph-transport.js';
import type { Delivery, MailTransport, SendOptions } from './mail-transport.js';
import type { MailboxTransport } from './mailbox-transport.js';

/** A mailbox changed its way out: to Graph when SMTP refused, back to SMTP when it works again. */
export interface TransportSwitch {
  mailbox: string;
  from: 'smtp' | 'graph';
  to: 'smtp' | 'graph';
  /** The diagnosis that made it switch to Graph; undefined on the way back. */
  code: string | undefined;
}

export interface AutoTransportOptions {
  mailbox: string;
  /** While on Graph, SMTP is tried again after this (re-enabled SMTP AUTH is noticed). */
  smtpRetryInMs?: number;
  onSwitch?: (change: TransportSwitch) => void;
}

const defaultSmtpRetryInMs = 15 * 60 * 1000;

/**
 * EXOSEND_TRANSPORT=auto: SMTP first; a mailbox whose SMTP AUTH Exchange says is disabled, or whose
 * SMTP endpoint cannot be reached, moves to Graph, and tries SMTP again now and then.
 *
 * Why that cannot send twice: both refusals come before MAIL FROM (535 to AUTH; no connection at
 * all), so Exchange never had the message; the same call then sends it through Graph. A failure
 * after the message may have reached Exchange (a dropped DATA) never switches: it fails as on SMTP.
 * Both transports take from one budget object, so the mailbox's minute and day hold across the switch.
 */
export class AutoTransport implements MailTransport {
  readonly kind = 'auto';
  readonly budget: MailboxBudget;
  private onGraphSince: number | undefined;
  private probing = false;
  private readonly smtpRetryInMs: number;

  constructor(
    readonly smtp: MailboxTransport,
    readonly graph: GraphTransport,
    private readonly options: AutoTransportOptions,
  ) {
    this.budget = smtp.budget;
    this.smtpRetryInMs = options.smtpRetryInMs ?? defaultSmtpRetryInMs;
  }

  /** Which way the next message goes. */
  get current(): 'smtp' | 'graph' {
    return this.onGraphSince === undefined ? 'smtp' : 'graph';
  }

  async send(mail: ComposedMail, options: SendOptions = {}): Promise<Delivery> {
    if (this.onGraphSince !== undefined && !this.probeDue()) return this.graph.send(mail, options);
    const probe = this.onGraphSince !== undefined;
    if (probe) this.probing = true;
    try {
      const delivery = await this.smtp.send(mail, options);
      if (probe) this.switchTo('smtp', undefined);
      return delivery;
    } catch (error) {
      const reason = smtpClosed(error);
      if (!reason) throw error;
      if (probe)
        this.onGraphSince = Date.now(); // still closed: wait a while again
      else this.switchTo('graph', reason);
      return this.graph.send(mail, options);
    } finally {
      if (probe) this.probing = false;
    }
  }

  close(): void {
    this.smtp.close();
    this.graph.close();
  }

  async stop(): Promise<void> {
    await Promise.all([this.smtp.stop(), this.graph.stop()]);
  }

  /** One message at a time tries SMTP again, once the wait is over; the others keep to Graph. */
  private probeDue(): boolean {
    return !this.probing && Date.now() - (this.onGraphSince ?? 0) >= this.smtpRetryInMs;
  }

  private switchTo(to: 'smtp' | 'graph', code: string | undefined): void {
    if (this.current === to) return;
    this.onGraphSince = to === 'graph' ? Date.now() : undefined;
    this.options.onSwitch?.({ mailbox: this.options.mailbox, from: to === 'graph' ? 'smtp' : 'graph', to, code });
  }
}

/**
 * SMTP is closed to this mailbox, and surely nothing was sent: Exchange says SMTP AUTH is disabled
 * (535 5.7.139 ... disabled), or the endpoint could not be connected to at all.
 */
function smtpClosed(error: unknown): string | undefined {
  return error instanceof DeliveryFailed ? smtpClosedBy(error.diagnosis) : undefined;
}

/** The same rule for a diagnosis (the health check and the doctor follow a send's way under `auto`). */
export function smtpClosedBy(diagnosis: Pick<Diagnosis, 'code' | 'smtp'>): string | undefined {
  const { code, smtp = '' } = diagnosis;
  if (code === 'SMTP_AUTH_DISABLED') return code;
  if (code === 'TEMPORARY_FAILURE' && /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/.test(smtp))
    return code;
  return undefined;
}
