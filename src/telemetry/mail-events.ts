import type { CallerTag } from '../auth/caller-scope.js';
import { telemetryIsOn, trackEvent } from './telemetry.js';

/**
 * What happened to one mail request, as a custom event named `exosend.<kind>` (the same name as
 * its log line). Only the fields below are copied, so passing a larger object can never carry an
 * address, a subject or a body into telemetry.
 */
export const mailEventKinds = ['sent', 'failed', 'retry', 'dead-lettered', 'deferred'] as const;

export interface MailEvent {
  kind: (typeof mailEventKinds)[number];
  id?: string;
  /** The diagnosis code of the failure (of the attempt that failed, for a retry). */
  code?: string;
  stage?: string;
  messageId?: string;
  attempts?: number;
  delaySeconds?: number;
  durationMs?: number;
  /** The mailbox whose budget made a message wait (deferred only): configuration, not a recipient. */
  mailbox?: string;
}

export type MailTrigger = 'http' | 'queue';

/** `caller`: the caller it was done for, by app id and name (never its token). */
export function trackMailEvent(trigger: MailTrigger, event: MailEvent, caller: CallerTag | undefined): void {
  if (!telemetryIsOn()) return;
  const { kind, id, code, stage, messageId, attempts, delaySeconds, durationMs, mailbox } = event;
  const measurements = Object.fromEntries(
    Object.entries({ attempts, delaySeconds, durationMs }).filter(
      (entry): entry is [string, number] => typeof entry[1] === 'number',
    ),
  );
  trackEvent(
    `exosend.${kind}`,
    { trigger, id, code, stage, messageId, mailbox, caller: caller?.id, callerName: caller?.name },
    measurements,
  );
}
