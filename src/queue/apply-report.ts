import { diagnoseBounce, type BounceCode } from '../diagnosis/bounce-diagnosis.js';
import type { DeliveryReport, ReportedRecipient } from '../mail/delivery-report.js';
import type { RecipientStatus } from '../mail/recipient-delivery.js';
import type { DeliveryStore } from './delivery-store.js';
import type { StatusStore } from './status-store.js';
import type { SuppressionList } from './suppression-list.js';

export interface ReportDeps {
  store: StatusStore;
  deliveries: DeliveryStore;
  suppressions: SuppressionList;
}

/** One recipient's new state, as the outcomes queue and telemetry carry it. */
export interface RecipientOutcome {
  id: string;
  messageId?: string;
  recipient: string;
  status: RecipientStatus;
  statusCode: string;
  diagnosis?: BounceCode;
  suppressed: boolean;
  at: string;
}

/**
 * A delivery report applied to the message it is about: found by its ENVID (the exosend id), or by
 * the returned Message-ID when it has none, or when the two disagree (an ENVID is only a string
 * someone else's mail could carry too; exosend's Message-IDs are its own). A report about mail
 * exosend did not send, or about recipients the message did not have, changes nothing. Returns
 * what changed; a recipient that does not exist is suppressed.
 */
export async function applyDeliveryReport(
  deps: ReportDeps,
  report: DeliveryReport,
  at = new Date().toISOString(),
): Promise<RecipientOutcome[]> {
  const id = await messageOf(deps, report);
  if (!id) return [];
  const record = await deps.store.get(id);
  if (!record) return [];
  const outcomes: RecipientOutcome[] = [];
  for (const reported of report.recipients) {
    const status = statusOf(reported);
    const diagnosis = diagnoseBounce(reported.status, reported.action, reported.diagnosticCode);
    const row = await deps.deliveries.update(id, {
      recipient: reported.originalRecipient ?? reported.recipient,
      status,
      statusCode: reported.status,
      ...(diagnosis && { diagnosis: diagnosis.code }),
      ...(reported.diagnosticCode && { detail: reported.diagnosticCode }),
      at,
      source: 'report',
    });
    if (!row) continue;
    const suppressed = status === 'failed' && diagnosis?.suppress === true;
    if (suppressed)
      await deps.suppressions.add({
        recipient: row.recipient,
        reason: diagnosis.code,
        statusCode: reported.status,
        id,
        at,
      });
    outcomes.push({
      id,
      ...(record.messageId && { messageId: record.messageId }),
      recipient: row.recipient,
      status,
      statusCode: reported.status,
      ...(diagnosis && { diagnosis: diagnosis.code }),
      suppressed,
      at,
    });
  }
  return outcomes;
}

async function messageOf(deps: ReportDeps, report: DeliveryReport): Promise<string | undefined> {
  const byMessageId = report.originalMessageId
    ? await deps.deliveries.idForMessageId(report.originalMessageId)
    : undefined;
  return byMessageId ?? report.envelopeId;
}

/** A failure the recipient's side quarantined is told apart by its words; every other failure is `failed`. */
function statusOf(reported: ReportedRecipient): RecipientStatus {
  switch (reported.action) {
    case 'failed':
      return /quarantin/i.test(reported.diagnosticCode ?? '') ? 'quarantined' : 'failed';
    case 'delayed':
      return 'delayed';
    default:
      return 'delivered';
  }
}
