import { drive, type Batch } from './drive.js';
import type { BenchOptions } from './options.js';
import { baselineSender, exosendSender, floorSender, hostInvocation, type Sender } from './senders.js';
import type { StandInCounts, Variant } from './stand-ins.js';
import type { StandIns } from './stand-ins-client.js';
import { median, summarise, type Throughput } from './stats.js';

export type Mode = 'sequential' | 'concurrent';
export type VariantCounts = StandInCounts & { messages: number };

export interface WarmSends {
  rounds: number;
  concurrency: number;
  throughput: Record<Mode, Record<Variant, Throughput>>;
  /**
   * The baseline with 3 callers against Exchange's 3-session limit, enforced: the most the support
   * article's way can send within what Exchange allows (a 432 is a failed send, as for the script).
   */
  baselineWithinLimit: Throughput & { replies432: number; maxConcurrentSessions: number };
  /** exosend's median latency over the floor's, in each round: how much the ratio moves between rounds. */
  p50RatioByRound: Record<Mode, number[]>;
  /** What the stand-ins counted during each variant's measured batches, all rounds and modes together. */
  counts: Record<Variant, VariantCounts>;
  /** What building the host's HttpRequest and InvocationContext costs, per invocation (outside exosend's latency clock). */
  hostInvocationUs: number;
}

const variants: Variant[] = ['floor', 'exosend', 'baseline'];

/**
 * Warm sends, interleaved: every round runs each variant's batch back to back on the same stand-ins,
 * in an order that rotates from round to round, so that what else the machine does weighs on all alike.
 * exosend runs in this process through its real HTTP handler, warmed up first (pool, token, secret).
 */
export async function measureWarmSends(standIns: StandIns, options: BenchOptions['warm']): Promise<WarmSends> {
  standIns.restartApp();
  // each variant prepares its own kind of message and sends only what it prepared itself
  const senders: Record<Variant, Sender<unknown>> = {
    floor: await floorSender(standIns.info),
    exosend: exosendSender(),
    baseline: baselineSender(standIns.info),
  };
  const batches: Record<Mode, Record<Variant, Batch[]>> = {
    sequential: { floor: [], exosend: [], baseline: [] },
    concurrent: { floor: [], exosend: [], baseline: [] },
  };
  const counts: Partial<Record<Variant, VariantCounts>> = {};

  const withinLimit: Batch[] = [];
  let withinLimitCounts: StandInCounts | undefined;

  // The baseline opens a session per caller; Exchange answers 432 past 3 at once. The limit is lifted
  // for its 8 callers so that it is measured at its best (its session count is reported), and kept
  // for its 3 callers, whose failures are counted rather than fatal.
  const runBatch = async (
    variant: Variant,
    count: number,
    concurrency: number,
    sessionLimit = variant === 'baseline' ? 0 : 3,
  ) => {
    await standIns.setLimits({ maxSessionsPerMailbox: sessionLimit });
    await standIns.reset();
    const sender = senders[variant];
    const batch = await drive(
      count,
      concurrency,
      (i) => sender.prepare(i),
      (prepared) => sender.send(prepared),
    );
    const failuresExpected = variant === 'baseline' && sessionLimit > 0;
    if (batch.failures > 0 && !failuresExpected)
      throw new Error(`${variant}: ${batch.failures} of ${count} sends failed, first: ${batch.firstError}`);
    return { batch, counted: await standIns.counts(standIns.info.mailboxes[variant]) };
  };

  try {
    for (const variant of variants) await runBatch(variant, variant === 'baseline' ? 8 : 60, options.concurrency);
    for (let round = 0; round < options.rounds; round++) {
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
      for (const mode of ['sequential', 'concurrent'] as const) {
        const sizes = options[mode];
        for (const variant of order) {
          const count = variant === 'baseline' ? sizes.baseline : sizes.fast;
          const { batch, counted } = await runBatch(variant, count, mode === 'sequential' ? 1 : options.concurrency);
          batches[mode][variant].push(batch);
          counts[variant] = add(counts[variant], counted, batch.latenciesMs.length);
        }
      }
      const { batch, counted } = await runBatch('baseline', options.baselineWithinLimit, 3, 3);
      withinLimit.push(batch);
      withinLimitCounts = withinLimitCounts ? addCounts(withinLimitCounts, counted) : counted;
      counts.baseline = add(counts.baseline, counted, batch.latenciesMs.length);
    }
  } finally {
    for (const sender of Object.values(senders)) sender.close();
    // closes exosend's pool too: the sections after this one bring their own workers
    standIns.restartApp();
    await standIns.setLimits({ maxSessionsPerMailbox: 3 });
  }

  const throughput = (mode: Mode) =>
    Object.fromEntries(variants.map((v) => [v, summarise(batches[mode][v])])) as Record<Variant, Throughput>;
  const p50Ratios = (mode: Mode) =>
    batches[mode].exosend.map((b, i) => median(b.latenciesMs) / median(batches[mode].floor[i]!.latenciesMs));
  return {
    rounds: options.rounds,
    concurrency: options.concurrency,
    throughput: { sequential: throughput('sequential'), concurrent: throughput('concurrent') },
    baselineWithinLimit: {
      ...summarise(withinLimit),
      replies432: withinLimitCounts?.replies432 ?? 0,
      maxConcurrentSessions: withinLimitCounts?.maxConcurrentSessions ?? 0,
    },
    p50RatioByRound: { sequential: p50Ratios('sequential'), concurrent: p50Ratios('concurrent') },
    counts: counts as Record<Variant, VariantCounts>,
    hostInvocationUs: timeHostInvocation(),
  };
}

function timeHostInvocation(): number {
  const count = 2_000;
  const started = performance.now();
  for (let i = 0; i < count; i++) hostInvocation(i);
  return ((performance.now() - started) / count) * 1000;
}

function add(total: VariantCounts | undefined, batch: StandInCounts, messages: number): VariantCounts {
  return total ? { ...addCounts(total, batch), messages: total.messages + messages } : { ...batch, messages };
}

function addCounts(total: StandInCounts, batch: StandInCounts): StandInCounts {
  return {
    tokenRequests: total.tokenRequests + batch.tokenRequests,
    openIdConfigRequests: total.openIdConfigRequests + batch.openIdConfigRequests,
    managedIdentityRequests: total.managedIdentityRequests + batch.managedIdentityRequests,
    vaultReads: total.vaultReads + batch.vaultReads,
    smtpConnections: total.smtpConnections + batch.smtpConnections,
    smtpAuthentications: total.smtpAuthentications + batch.smtpAuthentications,
    accepted: total.accepted + batch.accepted,
    maxConcurrentSessions: Math.max(total.maxConcurrentSessions, batch.maxConcurrentSessions),
    replies432: total.replies432 + batch.replies432,
    repliesRateLimit: total.repliesRateLimit + batch.repliesRateLimit,
    otherReplies: [...total.otherReplies, ...batch.otherReplies].slice(0, 10),
  };
}
