import type { DiagnosisContext, Diagnosis } from '../diagnosis/diagnosis.js';
import { classifyReaderOutcome } from '../diagnosis/classify-reader.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import { parseDeliveryReport } from '../mail/delivery-report.js';
import { looksLikeDeliveryReport } from '../mail/report-lookalike.js';
import { applyDeliveryReport, type RecipientOutcome, type ReportDeps } from '../queue/apply-report.js';
import type { OutcomeSink } from '../queue/outcome-events.js';
import type { InboxCursorStore } from '../storage/inbox-cursor-store.js';
import { trackBounce, trackReader } from '../telemetry/delivery-events.js';
import { GraphError } from '../transport/graph-client.js';
import type { GraphInbox } from '../transport/graph-inbox.js';
import { recordReaderRun, type MailboxRead, type ReaderRun } from './reader-state.js';

/**
 * Graph's Outlook limit is 10,000 requests per 10 minutes per app and mailbox
 * (microsoftgraph/microsoft-graph-docs-contrib, concepts/throttling-limits.md, "Outlook service
 * limits"), shared with every other tool that uses the app. One tick spends at most this many on
 * a mailbox (delta pages and `$value` reads), one at a time: with the default 5-minute schedule
 * that is 400 in 10 minutes, 4% of the limit. A round that needs more goes on at the next tick.
 */
export const readerRequestsPerTick = 200;

/** A lease outlives any tick that keeps to its budget; a crashed instance's lapses on its own. */
const leaseInMs = 4 * 60_000;

export interface ReaderDeps {
  mailboxes: readonly string[];
  inbox: GraphInbox;
  cursors: InboxCursorStore;
  reports: ReportDeps;
  outcomes?: OutcomeSink;
  /** A first read looks back this far (reports older than the horizon change nothing). */
  horizonInMs: number;
  context: DiagnosisContext;
  requestsPerTick?: number;
}

/**
 * One tick of delivery tracking: each sending mailbox's Inbox read from where the last read
 * stopped (one delta round at most, within the request budget), the messages that look like
 * delivery reports fetched as MIME and parsed, and each applied to the message it is about.
 * Nothing else in the Inbox is fetched, marked or moved. A mailbox Graph refuses (Mail.Read not
 * granted, out of scope) is a diagnosis for that mailbox, and never stops a send.
 */
export async function readDeliveryReports(deps: ReaderDeps, now = Date.now()): Promise<ReaderRun> {
  const mailboxes: MailboxRead[] = [];
  for (const mailbox of deps.mailboxes) mailboxes.push(await readMailbox(deps, mailbox, now));
  const run = { at: new Date(now).toISOString(), ok: mailboxes.every((m) => m.ok), mailboxes };
  recordReaderRun(run);
  for (const m of mailboxes)
    trackReader({
      mailbox: m.mailbox,
      ok: m.ok,
      requests: m.requests,
      reports: m.reports,
      ...(m.code && { code: m.code }),
      ...(m.skipped && { skipped: m.skipped }),
    });
  return run;
}

async function readMailbox(deps: ReaderDeps, mailbox: string, now: number): Promise<MailboxRead> {
  const read: MailboxRead = { mailbox, ok: true, requests: 0, reports: 0, outcomes: [] };
  const taken = await deps.cursors.take(mailbox, leaseInMs, now);
  if ('busy' in taken) return { ...read, skipped: taken.busy };
  const { lease } = taken;
  const budget = deps.requestsPerTick ?? readerRequestsPerTick;
  const { pageSize } = deps.inbox;
  // the page not yet fully read, and how many of its messages are done: a failure part-way (a
  // 429 on a `$value`) resumes after the last message applied rather than at the page's start
  let link = lease.cursor.link ?? deps.inbox.firstPath(mailbox, new Date(now - deps.horizonInMs));
  let done = lease.cursor.done ?? 0;
  let notBefore: string | undefined;
  try {
    // room for one more page and a report for each of its messages
    while (read.requests + 1 + pageSize <= budget) {
      const page = await deps.inbox.page(link);
      read.requests += 1;
      for (const item of page.items.slice(done)) {
        if (!item.removed && looksLikeDeliveryReport(item)) {
          const mime = await deps.inbox.mime(mailbox, item.id);
          read.requests += 1;
          read.reports += 1;
          const report = parseDeliveryReport(mime);
          const outcomes = report
            ? await applyDeliveryReport(deps.reports, report, item.receivedDateTime ?? new Date(now).toISOString())
            : [];
          await publish(deps, mailbox, outcomes);
          read.outcomes.push(...outcomes);
        }
        done += 1;
      }
      const next = page.nextLink ?? page.deltaLink;
      if (!next) break;
      link = next;
      done = 0;
      // one round per tick: a deltaLink is where the next tick starts
      if (page.deltaLink) break;
    }
  } catch (error) {
    const diagnosis = diagnosisOf(error, { ...deps.context, mailbox });
    if (!diagnosis) {
      await deps.cursors.release(lease, { link, done, lastResult: 'UNEXPECTED_ERROR' });
      throw error;
    }
    if (diagnosis.retryAfterSeconds !== undefined && diagnosis.code === 'GRAPH_THROTTLED')
      notBefore = new Date(Date.now() + diagnosis.retryAfterSeconds * 1000).toISOString();
    Object.assign(read, { ok: false, code: diagnosis.code, diagnosis });
  }
  await deps.cursors.release(lease, { link, done, lastResult: read.code ?? 'ok', ...(notBefore && { notBefore }) });
  return read;
}

async function publish(deps: ReaderDeps, mailbox: string, outcomes: RecipientOutcome[]): Promise<void> {
  for (const o of outcomes) {
    if (o.status === 'failed' || o.status === 'quarantined')
      trackBounce({
        id: o.id,
        mailbox,
        status: o.status,
        statusCode: o.statusCode,
        suppressed: o.suppressed,
        ...(o.diagnosis && { code: o.diagnosis }),
      });
  }
  await deps.outcomes?.publish(
    outcomes.map((o) => ({
      kind: 'recipient',
      id: o.id,
      recipient: o.recipient,
      status: o.status,
      statusCode: o.statusCode,
      ...(o.diagnosis && { code: o.diagnosis }),
      suppressed: o.suppressed,
      source: 'report',
      at: o.at,
    })),
  );
}

/** Graph's refusal, throttling or silence, or a token the reader cannot use, as a diagnosis; undefined for a defect. */
function diagnosisOf(error: unknown, context: DiagnosisContext): Diagnosis | undefined {
  if (error instanceof GraphError) return classifyReaderOutcome(error.outcome(), context);
  if (error instanceof DeliveryFailed) return error.diagnosis;
  return undefined;
}
