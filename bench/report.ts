import type { BenchResults } from './results.js';
import type { Throughput } from './stats.js';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : int(n));
const rate = (n: number) => (n < 100 ? n.toFixed(1) : int(n));
const ratio = (n: number) => (n < 10 ? `${n.toFixed(2)}x` : `${n.toFixed(1)}x`);
const mb = (kb: number) => `${int(kb / 1024)} MB`;

type Row = [
  section: string,
  measure: string,
  exosend: string,
  floor: string,
  baseline: string,
  vsFloor: string,
  vsBaseline: string,
  target: string,
];

/** The one table, markdown, with every figure and ratio; then the notes that say how to read it. */
export function formatReport(r: BenchResults): string {
  const rows: Row[] = [];
  const met = (what: string) => {
    const target = r.targets.find((t) => t.what === what);
    return target ? `${target.target}: ${target.met ? 'met' : 'MISSED'}` : '';
  };

  const { throughput, concurrency, counts } = r.warm;
  for (const mode of ['sequential', 'concurrent'] as const) {
    const label = mode === 'sequential' ? 'warm, 1 caller' : `warm, ${concurrency} callers`;
    const t = throughput[mode];
    const line = (
      measure: string,
      pick: (x: Throughput) => number,
      format: (n: number) => string,
      targets: [string, string] = ['', ''],
    ): Row => [
      '1',
      `${label}: ${measure}`,
      format(pick(t.exosend)),
      format(pick(t.floor)),
      format(pick(t.baseline)),
      ratio(pick(t.exosend) / pick(t.floor)),
      ratio(pick(t.exosend) / pick(t.baseline)),
      targets.filter(Boolean).join('; '),
    ];
    const name = mode === 'sequential' ? 'sequential' : `${concurrency} callers`;
    rows.push(line('msg/s', (x) => x.perSecond, rate, ['', met(`throughput vs baseline, ${name}`)]));
    rows.push(line('p50 ms', (x) => x.p50Ms, ms, [met(`median latency vs floor, ${name}`), '']));
    rows.push(line('p99 ms', (x) => x.p99Ms, ms));
    rows.push(line('client CPU us/msg', (x) => x.cpuUsPerMessage, int));
  }
  const bounded = r.warm.baselineWithinLimit;
  const c8 = throughput.concurrent;
  rows.push([
    '1',
    `warm, baseline held to Exchange's 3 sessions (3 callers): msg/s`,
    rate(c8.exosend.perSecond),
    rate(c8.floor.perSecond),
    `${rate(bounded.perSecond)}${bounded.failures ? ` (${bounded.failures} failed)` : ''}`,
    ratio(c8.exosend.perSecond / c8.floor.perSecond),
    ratio(c8.exosend.perSecond / bounded.perSecond),
    met(`throughput vs baseline, within Exchange's session limit`),
  ]);
  rows.push([
    '1',
    'most SMTP sessions at once',
    String(counts.exosend.maxConcurrentSessions),
    String(counts.floor.maxConcurrentSessions),
    String(counts.baseline.maxConcurrentSessions),
    '',
    '',
    'Exchange allows 3 per mailbox',
  ]);

  const cost = r.cost;
  const scale = 10_000 / cost.messages;
  const perTenThousand = (variant: 'floor' | 'baseline', pick: (c: (typeof counts)['floor']) => number) =>
    int((pick(counts[variant]) / counts[variant].messages) * 10_000);
  const scaled = scale === 1 ? '' : ` (x${scale})`;
  rows.push([
    '2',
    'per 10,000 msgs: token requests (+ OpenID discovery)',
    `${cost.counts.tokenRequests} (+${cost.counts.openIdConfigRequests})`,
    `${perTenThousand('floor', (c) => c.tokenRequests)} (1 up front)`,
    `${perTenThousand('baseline', (c) => c.tokenRequests)} (+${perTenThousand('baseline', (c) => c.openIdConfigRequests)})`,
    '',
    '',
    met('token requests, one worker'),
  ]);
  rows.push([
    '2',
    'per 10,000 msgs: vault reads (+ managed identity tokens)',
    `${cost.counts.vaultReads} (+${cost.counts.managedIdentityRequests})`,
    '0 (secret in code)',
    '0 (secret in code)',
    '',
    '',
    met('vault reads, one worker'),
  ]);
  rows.push([
    '2',
    'per 10,000 msgs: SMTP connections',
    `${int(cost.counts.smtpConnections * scale)}${scaled}`,
    perTenThousand('floor', (c) => c.smtpConnections),
    perTenThousand('baseline', (c) => c.smtpConnections),
    '',
    '',
    '',
  ]);

  const cold = r.coldStart;
  for (const load of cold.loads) {
    const shipped = load.path === r.shippedEntry ? ', shipped' : '';
    rows.push([
      '3',
      `cold: load entry, less empty node: ${load.name}${shipped}`,
      `${int(load.netMs)} ms`,
      '',
      '',
      '',
      '',
      `${load.path}; import alone ${int(load.importMs)} ms`,
    ]);
  }
  const { zipBytes, unpackedBytes } = r.deployedPackage;
  const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  rows.push([
    '3',
    'deployed artefact: dist/exosend.zip size',
    megabytes(zipBytes),
    '',
    '',
    '',
    '',
    `${megabytes(unpackedBytes)} unpacked: host.json, package.json, bundle, node_modules of @azure/functions`,
  ]);
  for (const first of cold.firstSends) {
    const path = cold.loads.find((l) => l.name === first.name)?.path;
    const shipped = path === r.shippedEntry ? ', shipped' : '';
    rows.push([
      '3',
      `cold: process start to first accepted msg: ${first.name}${shipped}`,
      `${int(first.wallMs)} ms`,
      '',
      '',
      '',
      '',
      'vault read, token, new SMTP session',
    ]);
  }

  rows.push([
    '4',
    `peak RSS, ${int(cost.messages)}-message run`,
    mb(cost.child.maxRssKb),
    '',
    '',
    '',
    '',
    `${mb(cost.child.rssAfterLoadKb)} after load; ${rate(cost.messages / (cost.child.sendMs / 1000))} msg/s cold to last`,
  ]);

  const p = r.pacing;
  rows.push([
    '5',
    `pacing: achieved rate (limit ${p.limit} per ${p.windowInMs / 1000} s = ${rate(p.limitPerSecond)}/s)`,
    `${rate(p.achievedPerSecond)}/s`,
    '',
    '',
    '',
    '',
    `${met('pacing: achieved rate vs limit')} (${(p.deviation * 100).toFixed(1)}%)`,
  ]);
  rows.push(['5', 'pacing: most accepted in any window', String(p.maxInAnyWindow), '', '', '', '', `<= ${p.limit}`]);
  rows.push([
    '5',
    'pacing: 432 / rate-limit replies',
    `${p.counts.replies432} / ${p.counts.repliesRateLimit}`,
    '',
    '',
    '',
    '',
    met('432 replies (pacing, cost run, queue)'),
  ]);
  rows.push([
    '5',
    'pacing: most SMTP sessions at once',
    String(p.counts.maxConcurrentSessions),
    '',
    '',
    '',
    '',
    '<= 3',
  ]);

  const q = r.queue;
  rows.push([
    '6',
    `queue drain from Azurite (${int(q.messages)} msgs)`,
    `${rate(q.perSecond)} msg/s`,
    '',
    '',
    '',
    '',
    `host.json batchSize ${q.batchSize}, newBatchThreshold ${q.newBatchThreshold}`,
  ]);

  for (const c of r.hostile.cases) {
    rows.push([
      '7',
      `refuse a ${c.bodyMb.toFixed(1)} MB body of ${c.name}: ms`,
      ms(c.refuseMs),
      ms(c.parseMs),
      '',
      ratio(c.refuseMs / c.parseMs),
      '',
      `${met(`hostile input: ${c.name}`)}; answer ${int(c.answerChars)} chars, ${c.details} details`,
    ]);
  }
  const so = r.scaleOut;
  for (const row of so.rows) {
    rows.push([
      '8',
      `scale-out: ${row.mailboxes} mailbox(es), ${row.workers} worker(s) (limit ${rate(row.limitPerSecond)}/s)`,
      `${rate(row.achievedPerSecond)}/s = ${(row.fraction * 100).toFixed(1)}%`,
      '',
      '',
      '',
      '',
      `${met(`scale-out: ${row.mailboxes} mailbox(es), ${row.workers} worker(s)`)}; ${row.replies432} / ${row.repliesRateLimit} throttled; most in a window ${row.maxInAnyWindow} (<= ${so.limit}); sessions ${row.maxSessions}; ${row.roundTripsPerMessage.toFixed(2)} storage round trips/msg`,
    ]);
  }

  const header: Row = ['#', 'measure', 'exosend', 'floor', 'baseline', 'exosend/floor', 'exosend/baseline', 'target'];
  const table = [header, header.map(() => '---') as Row, ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
  return [table, '', ...notes(r).map((n) => `- ${n}`)].join('\n');
}

function notes(r: BenchResults): string[] {
  const m = r.machine;
  const { p50RatioByRound, rounds, concurrency, throughput } = r.warm;
  const range = (values: number[]) => `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;
  const missed = r.targets.filter((t) => !t.met);
  const ownCpu = (mode: 'sequential' | 'concurrent') =>
    throughput[mode].exosend.cpuUsPerMessage - throughput[mode].floor.cpuUsPerMessage - r.warm.hostInvocationUs;
  return [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB; Node ${m.node}; ${m.os}. ${r.date}, \`${r.command}\`, ${Math.round(r.durationSeconds)} s.`,
    `Load average ${r.load.start} at the start, ${r.load.end} at the end${Math.max(r.load.start, r.load.end) > m.cores ? ': other work shared the cores, expect noise' : ''}.`,
    "Every new SMTP connection includes smtp-server's fixed 100 ms wait before its greeting, as every connection to Exchange Online pays its own fixed costs over the internet: it dominates the baseline (a session per message) and the first send; exosend and the floor pay it once per pooled connection.",
    `floor: nodemailer's pool (2 connections, as many as exosend's sends get) with one token fetched up front, no exosend code. baseline: the support article's script, per message: new credential, token request, connect, STARTTLS, AUTH, send, QUIT. exosend: the real /api/send handler, warm, logs discarded, telemetry off, callers by function key; no storage set (as \`npm start\` without Azurite): no send record, no suppression check, the mailbox's budget this process's own (LocalBudget, the same rules in memory), what a single worker without AzureWebJobsStorage does; the shared budget and the records are measured in scale-out and the queue drain. All three in this process, one after another, ${rounds} interleaved rounds (${throughput.sequential.exosend.messages} + ${throughput.concurrent.exosend.messages} exosend messages, ${throughput.sequential.baseline.messages} + ${throughput.concurrent.baseline.messages} baseline), against the same stand-ins in a process of their own (as Entra, Key Vault and Exchange are elsewhere), a mailbox each.`,
    `Latency is timed from the handler's call to its answer; the HttpRequest and InvocationContext the host builds before it calls a function (${r.warm.hostInvocationUs.toFixed(0)} us each here, undici underneath) are built before the clock starts but inside msg/s and client CPU, as the floor's and baseline's message objects are. Client CPU is this process's CPU time per message (user + system); the stand-ins' is not in it. With ${concurrency} callers on ${r.machine.cores} cores the senders and the stand-ins keep the CPU busy, so latency there is mostly waiting for it, and each extra microsecond of client CPU shows.`,
    `exosend's own CPU per message (its client CPU less the floor's, less the host's HttpRequest and InvocationContext): ${int(ownCpu('sequential'))} us (1 caller), ${int(ownCpu('concurrent'))} us (${concurrency} callers).`,
    `exosend/floor median latency per round: ${range(p50RatioByRound.sequential)} (1 caller), ${range(p50RatioByRound.concurrent)} (${concurrency} callers).`,
    `With ${concurrency} callers the baseline opened ${r.warm.counts.baseline.maxConcurrentSessions} SMTP sessions at once, which hides its per-session waits; Exchange allows 3 per mailbox and would answer 432 to the others, so the stand-in's session limit was lifted for those batches: their figures are the best the baseline could do, not what Exchange would let it do. Held to 3 sessions (3 callers, limit enforced) it reached ${rate(r.warm.baselineWithinLimit.perSecond)} msg/s with ${r.warm.baselineWithinLimit.replies432} replies of 432; exosend stays within the limit with any number of callers.`,
    `Cost per 10,000: exosend from one fresh worker sending ${r.cost.messages.toLocaleString('en-US')} messages (${r.cost.concurrency} callers) through ${r.cost.entry}${r.cost.messages === 10_000 ? '' : '; token requests and vault reads are per worker and not scaled, connections are scaled'}; floor and baseline from their warm rounds. nodemailer's pool retires a connection after 100 messages, hence about one connection per 100.`,
    `Cold start: medians of ${r.coldStart.repetitions} fresh processes each (first sends: fewer), empty node ${int(r.coldStart.emptyNodeMs)} ms; outside the Functions host, whose package warns it is in test mode.`,
    `Pacing: exosend's pipeline with its pacing window and the stand-in's window both ${r.pacing.windowInMs / 1000} s instead of 60 s and the limit ${r.pacing.limit} per window, ${r.pacing.callers} callers with more to send than the limit allows for ${r.pacing.windows} windows; the stand-in enforces the same limit and 3 sessions per mailbox.`,
    `Hostile input: exosend's parseMailRequest refusing each body (from its text to the 400), against JSON.parse of the same text as the floor (what reading those bytes costs any JSON API), median of ${r.hostile.repetitions} interleaved runs each, in this process. Answer sizes are asserted in test/hostile-input.test.ts; here only time.`,
    `Scale-out: each mailbox's limit is ${r.scaleOut.limit} per ${r.scaleOut.windowInMs / 1000} s (Exchange's 30 a minute scaled up) in exosend and in the stand-in, which enforces it and 3 sessions per mailbox; worker processes send through createRuntime() with the budget shared through one Azurite, ${'4'} callers per mailbox each; the rate is counted over ${r.scaleOut.windows} windows from each mailbox's first accepted message; round trips are the budget's Table reads and writes per accepted message.`,
    missed.length === 0
      ? 'Every target met.'
      : `Missed: ${missed.map((t) => `${t.what} ${t.value} (target ${t.target})`).join('; ')}.`,
  ];
}
