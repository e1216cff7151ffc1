import { telemetryIsOn, trackEvent } from './telemetry.js';

/** The custom events of delivery tracking, by name: the alert rules select them (infra/app/alerts.bicep). */
const bounceEvent = 'exosend.bounce';
const readerEvent = 'exosend.reader';
export const deliveryEventNames = [bounceEvent, readerEvent] as const;

/** One recipient's bounce (failed or quarantined), with its codes: never the address or the body. */
export interface BounceEvent {
  id: string;
  mailbox: string;
  status: string;
  statusCode: string;
  /** The bounce catalogue's code (src/diagnosis/bounce-diagnosis.ts). */
  code?: string;
  suppressed: boolean;
}

/** The custom event `exosend.bounce`: the bounce-rate alert counts them per mailbox. */
export function trackBounce(event: BounceEvent): void {
  if (!telemetryIsOn()) return;
  const { id, mailbox, status, statusCode, code, suppressed } = event;
  trackEvent(bounceEvent, { id, mailbox, status, statusCode, code, suppressed });
}

/** One mailbox's read of its Inbox, as the custom event `exosend.reader`: the reader-failing alert selects `ok == false`. */
export interface ReaderEvent {
  mailbox: string;
  ok: boolean;
  code?: string;
  requests: number;
  reports: number;
  skipped?: string;
}

export function trackReader(event: ReaderEvent): void {
  if (!telemetryIsOn()) return;
  const { mailbox, ok, code, requests, reports, skipped } = event;
  trackEvent(readerEvent, { mailbox, ok, code, skipped }, { requests, reports });
}
