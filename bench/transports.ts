import { createAppCredential } from '../src/auth/create-app-credential.js';
import { checkGraphClaims, graphScopeFor } from '../src/auth/graph-claims.js';
import { TokenProvider } from '../src/auth/token-provider.js';
import { LocalBudget } from '../src/budget/local-budget.js';
import { loadConfig } from '../src/config/load-config.js';
import { parseMailRequest } from '../src/mail/parse-request.js';
import { MailSender } from '../src/pipeline/mail-sender.js';
import { inCallRetryPolicy, withRetries } from '../src/pipeline/retry.js';
import { graphConcurrentRequests } from '../src/transport/create-transports.js';
import { GraphClient } from '../src/transport/graph-client.js';
import { GraphTransport } from '../src/transport/graph-transport.js';
import type { MailTransport } from '../src/transport/mail-transport.js';
import { MailboxTransport } from '../src/transport/mailbox-transport.js';
import { drive, type Batch } from './drive.js';
import { benchRequest } from './message.js';
import type { BenchOptions } from './options.js';
import { exosendSender } from './senders.js';
import type { StandIns } from './stand-ins-client.js';
import { summarise, type Throughput } from './stats.js';

export type Transport = 'smtp' | 'graph';
const transports: Transport[] = ['smtp', 'graph'];

/** exosend's one message each way out, in the same run. */
export interface TransportSends {
  rounds: number;
  concurrency: number;
  /** Unmeasured sends after each switch of EXOSEND_TRANSPORT, so that each batch starts warm (token, session). */
  warmUp: number;
  throughput: Record<'sequential' | 'concurrent', Record<Transport, Throughput>>;
  /** Each way held to the same budget, scaled (`limit` per `windowInMs`), with more callers than it lets through. */
  atBudget: Record<
    Transport,
    {
      limit: number;
      windowInMs: number;
      windows: number;
      achievedPerSecond: number;
      maxInAnyWindow: number;
      throttled: number;
    }
  >;
  /** What the Graph stand-in answered other than 202, over the whole section. */
  graphErrors: string[];
}

/**
 * exosend over SMTP and over Microsoft Graph (EXOSEND_TRANSPORT=graph), both through the real
 * /api/send handler, interleaved round by round in an order that rotates, on the same stand-ins.
 * The worker's runtime is rebuilt for each batch with the transport's setting, then warmed up:
 * both ways pay the same restart, outside the clock.
 */
export async function measureTransports(
  standIns: StandIns,
  options: BenchOptions['warm'] & { pacing: BenchOptions['pacing'] },
): Promise<TransportSends> {
  const warmUp = 20;
  const sender = exosendSender();
  const batches = {
    sequential: { smtp: [] as Batch[], graph: [] as Batch[] },
    concurrent: { smtp: [] as Batch[], graph: [] as Batch[] },
  };
  await standIns.reset();
  const graphBefore = await standIns.graphCounts();
  const runBatch = async (transport: Transport, count: number, concurrency: number) => {
    standIns.restartApp({ EXOSEND_TRANSPORT: transport });
    await drive(
      warmUp,
      concurrency,
      (i) => sender.prepare(i),
      (p) => sender.send(p),
    );
    await standIns.reset();
    const batch = await drive(
      count,
      concurrency,
      (i) => sender.prepare(i),
      (p) => sender.send(p),
    );
    if (batch.failures > 0)
      throw new Error(
        `exosend over ${transport}: ${batch.failures} of ${count} sends failed, first: ${batch.firstError}`,
      );
    return batch;
  };
  try {
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? transports : [...transports].reverse();
      for (const mode of ['sequential', 'concurrent'] as const) {
        for (const transport of order)
          batches[mode][transport].push(
            await runBatch(transport, options[mode].fast, mode === 'sequential' ? 1 : options.concurrency),
          );
      }
    }
  } finally {
    standIns.restartApp();
  }
  const atBudget = {} as TransportSends['atBudget'];
  for (const transport of transports)
    atBudget[transport] = await atTheBudget(standIns, transport, options.pacing, options.concurrency);
  const graphAfter = await standIns.graphCounts();
  const summary = (mode: 'sequential' | 'concurrent') => ({
    smtp: summarise(batches[mode].smtp),
    graph: summarise(batches[mode].graph),
  });
  return {
    rounds: options.rounds,
    concurrency: options.concurrency,
    warmUp,
    throughput: { sequential: summary('sequential'), concurrent: summary('concurrent') },
    atBudget,
    graphErrors: graphAfter.errors.slice(graphBefore.errors.length).slice(0, 10),
  };
}

/**
 * The pipeline as createRuntime() builds it, with the mailbox's budget window shortened (it is no
 * setting: Exchange counts a minute) and its limit scaled, as in the pacing section; `callers`
 * keep more waiting than it lets through. The 30 a minute holds on Graph as on SMTP: one budget.
 */
async function atTheBudget(standIns: StandIns, transport: Transport, pacing: BenchOptions['pacing'], callers: number) {
  const { limit, windowInMs, windows } = pacing;
  const config = loadConfig({
    ...standIns.settings,
    EXOSEND_RATE_PER_MINUTE: String(limit),
    EXOSEND_TRANSPORT: transport,
  });
  const credential = createAppCredential(config);
  const limits = {
    ratePerWindow: limit,
    windowInMs,
    maxConnections: config.maxConnections,
    recipientsPerDay: Number.MAX_SAFE_INTEGER,
    dayInMs: 86_400_000,
  };
  let way: MailTransport;
  let tokens: TokenProvider;
  if (transport === 'smtp') {
    tokens = new TokenProvider(credential, { expect: config });
    way = new MailboxTransport({ ...config, pacingWindowInMs: windowInMs }, tokens);
  } else {
    const scope = graphScopeFor(config.graphEndpoint);
    tokens = new TokenProvider(credential, { expect: { ...config, scope }, check: checkGraphClaims });
    const budget = new LocalBudget({ mailbox: config.mailbox, limits });
    const concurrency = new LocalBudget({
      mailbox: 'graph-app',
      limits: { ...limits, ratePerWindow: Number.MAX_SAFE_INTEGER, maxConnections: graphConcurrentRequests },
    });
    way = new GraphTransport(
      { ...config, budget, concurrency, scope },
      new GraphClient({ endpoint: config.graphEndpoint, tokens }),
    );
  }
  const sender = new MailSender(config.mailbox, tokens, way);
  await standIns.setLimits({
    messagesPerMinute: transport === 'smtp' ? limit : 0,
    rateWindowInMs: windowInMs,
    maxSessionsPerMailbox: 3,
  });
  await standIns.reset();
  const graphErrorsBefore = (await standIns.graphCounts()).errors.length;
  try {
    const until = performance.now() + windows * windowInMs;
    let index = 0;
    const caller = async () => {
      while (performance.now() < until) {
        const request = parseMailRequest(JSON.stringify(benchRequest(index)), config);
        await withRetries(() => sender.send(request, `budget-${transport}-${index++}`), inCallRetryPolicy);
      }
    };
    await Promise.all(Array.from({ length: callers }, caller));
  } finally {
    way.close();
    await standIns.setLimits({ messagesPerMinute: 0, rateWindowInMs: 60_000 });
  }
  const accepted = await standIns.acceptedTimes();
  const first = accepted[0] ?? 0;
  const inWindows = accepted.filter((t) => t < first + windows * windowInMs).length;
  const counts = await standIns.counts(config.mailbox);
  const graphThrottled = (await standIns.graphCounts()).errors.length - graphErrorsBefore;
  return {
    limit,
    windowInMs,
    windows,
    achievedPerSecond: inWindows / ((windows * windowInMs) / 1000),
    maxInAnyWindow: maxInSlidingWindow(accepted, windowInMs),
    throttled: transport === 'smtp' ? counts.replies432 + counts.repliesRateLimit : graphThrottled,
  };
}

/** The largest number of sorted times within any span of `windowInMs`. */
function maxInSlidingWindow(sorted: readonly number[], windowInMs: number): number {
  let max = 0;
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while (sorted[start]! <= sorted[end]! - windowInMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}
