import { classifyGraphOutcome, type GraphOutcome } from './classify-graph.js';
import { diagnose } from './diagnose.js';
import type { Diagnosis, DiagnosisContext } from './diagnosis.js';

/**
 * A failure of the delivery reports reader: Graph refusing to let the app read the mailbox
 * (401/403, `ErrorAccessDenied`) is READER_ACCESS_DENIED, whose fix is Mail.Read (RBAC for
 * Applications or Entra), not sendMail's Mail.Send; the rest (throttling, an outage, a mailbox
 * Graph does not know) reads as it does for a send.
 */
export function classifyReaderOutcome(outcome: GraphOutcome, context: DiagnosisContext): Diagnosis {
  const diagnosis = classifyGraphOutcome(outcome, context);
  if (diagnosis.code !== 'GRAPH_ACCESS_DENIED') return diagnosis;
  return diagnose('READER_ACCESS_DENIED', context, { ...(diagnosis.smtp && { smtp: diagnosis.smtp }) });
}
