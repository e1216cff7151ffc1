import type { Throughput } from './stats.js';
import type { TransportSends } from './transports.js';

const fixed = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'));
const ratio = (n: number) => `${n.toFixed(2)}x`;

/** Section 9's own table: exosend over SMTP and over Microsoft Graph, side by side; then how it was taken. */
export function formatTransportsReport(t: TransportSends): string {
  const rows: string[][] = [];
  for (const mode of ['sequential', 'concurrent'] as const) {
    const label = mode === 'sequential' ? 'warm, 1 caller' : `warm, ${t.concurrency} callers`;
    const { smtp, graph } = t.throughput[mode];
    const line = (measure: string, pick: (x: Throughput) => number) => [
      `${label}: ${measure}`,
      fixed(pick(smtp)),
      fixed(pick(graph)),
      ratio(pick(graph) / pick(smtp)),
    ];
    rows.push(
      line('msg/s', (x) => x.perSecond),
      line('p50 ms', (x) => x.p50Ms),
      line('p99 ms', (x) => x.p99Ms),
      line('client CPU us/msg', (x) => x.cpuUsPerMessage),
    );
  }
  const { smtp, graph } = t.atBudget;
  const limitPerSecond = smtp.limit / (smtp.windowInMs / 1000);
  rows.push([
    `at the budget (${smtp.limit} per ${smtp.windowInMs / 1000} s = ${fixed(limitPerSecond)}/s, ${t.concurrency} callers): msg/s`,
    fixed(smtp.achievedPerSecond),
    fixed(graph.achievedPerSecond),
    ratio(graph.achievedPerSecond / smtp.achievedPerSecond),
  ]);
  rows.push([
    'at the budget: most accepted in any window',
    String(smtp.maxInAnyWindow),
    String(graph.maxInAnyWindow),
    `<= ${smtp.limit}`,
  ]);
  rows.push([
    'at the budget: throttle answers (432/450; Graph 429)',
    String(smtp.throttled),
    String(graph.throttled),
    '',
  ]);
  const header = ['9: measure', 'exosend over SMTP', 'exosend over Graph', 'Graph/SMTP'];
  const table = [header, header.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
  const notes = [
    `SMTP and Graph: exosend's real /api/send handler with EXOSEND_TRANSPORT=smtp, then =graph (or the reverse: the order alternates), ${t.rounds} interleaved rounds, the worker's runtime rebuilt for each batch and warmed by ${t.warmUp} unmeasured sends; the Graph stand-in speaks HTTPS on loopback in the stand-ins' process, answering sendMail's 202 at once, with Outlook's 4 requests at once per app enforced (exosend takes at most 4 leases). Client CPU is this process's.`,
    `At the budget: the pipeline with the mailbox's limit scaled to ${smtp.limit} per ${smtp.windowInMs / 1000} s for ${smtp.windows} windows, callers with more to send than it allows; on SMTP the stand-in enforces the same limit, on Graph only exosend's budget holds it (Exchange's 30 a minute counts every message of the mailbox, whichever way it goes).`,
    t.graphErrors.length === 0
      ? 'The Graph stand-in answered every request 202.'
      : `The Graph stand-in answered: ${t.graphErrors.join(', ')}.`,
  ];
  return [table, '', ...notes.map((n) => `- ${n}`)].join('\n');
}
