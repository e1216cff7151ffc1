import { parseReply, type SmtpReply } from './exchange-replies.js';

/** Failures a test asks the Exchange stand-in to produce, ahead of its own rules. */

export type FaultStage = 'auth' | 'mail' | 'rcpt' | 'data';

export interface FaultContext {
  stage: FaultStage;
  /** `user=` at AUTH (not yet verified), the authenticated mailbox afterwards. */
  mailbox: string;
  /** 0-based ordinal of the mail transaction across the stand-in; at AUTH, the next one's. */
  messageIndex: number;
  sessionId: string;
  /** At DATA: the message as submitted, so a test can fail some messages and not others. */
  raw?: Buffer;
}

/** A reply line such as '451 4.7.0 Temporary server error. Please try again later. PRX4', or a dropped connection. */
export type SmtpFault = { reply: string } | { drop: true };

export type FaultInjector = (context: FaultContext) => SmtpFault | undefined;

export type FaultAction = { reply: SmtpReply } | { drop: true };

export class FaultPlan {
  private injector: FaultInjector | undefined;
  private readonly queued: { stage: FaultStage; fault: SmtpFault; remaining: number }[] = [];

  setInjector(injector: FaultInjector | undefined): void {
    this.injector = injector;
  }

  failNext(stage: FaultStage, fault: SmtpFault | string, count = 1): void {
    this.queued.push({ stage, fault: typeof fault === 'string' ? { reply: fault } : fault, remaining: count });
  }

  clear(): void {
    this.injector = undefined;
    this.queued.length = 0;
  }

  /** The fault for this command, if any; the injector is asked first, then the queue. */
  take(context: FaultContext): FaultAction | undefined {
    let fault = this.injector?.(context);
    if (!fault) {
      const entry = this.queued.find((q) => q.stage === context.stage && q.remaining > 0);
      if (entry) {
        entry.remaining -= 1;
        if (entry.remaining === 0) this.queued.splice(this.queued.indexOf(entry), 1);
        fault = entry.fault;
      }
    }
    if (!fault) return undefined;
    return 'drop' in fault ? { drop: true } : { reply: parseReply(fault.reply) };
  }
}
