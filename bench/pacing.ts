import { createAppCredential } from '../src/auth/create-app-credential.js';
import { TokenProvider } from '../src/auth/token-provider.js';
import { loadConfig } from '../src/config/load-config.js';
import { parseMailRequest } from '../src/mail/parse-request.js';
import { MailSender } from '../src/pipeline/mail-sender.js';
import { inCallRetryPolicy, withRetries } from '../src/pipeline/retry.js';
import { MailboxTransport } from '../src/transport/mailbox-transport.js';
import { benchRequest } from './message.js';
import type { BenchOptions } from './options.js';
import type { StandInCounts } from './stand-ins.js';
import type { StandIns } from './stand-ins-client.js';

export interface Pacing {
  limit: number;
  windowInMs: number;
  windows: number;
  callers: number;
  /** The limit as a rate: `limit` per window. */
  limitPerSecond: number;
  /** Messages Exchange accepted in the `windows` whole windows from its first, per second. */
  achievedPerSecond: number;
  /** achieved / limit - 1. */
  deviation: number;
  /** The most messages Exchange accepted in any sliding window: never above `limit`. */
  maxInAnyWindow: number;
  counts: StandInCounts;
}

/**
 * exosend's pipeline with the per-mailbox limit and both windows (exosend's pacer, the stand-in's
 * count) scaled so the run is short; the stand-in enforces the same limit and Exchange's 3 sessions.
 * Callers keep more work waiting than the limit lets through, for `windows` windows.
 */
export async function measurePacing(
  standIns: StandIns,
  options: BenchOptions['pacing'],
  callers: number,
): Promise<Pacing> {
  const { limit, windowInMs, windows } = options;
  // The pipeline as createRuntime() builds it, with the transport's pacing window shortened: the
  // window is no setting (Exchange counts a minute), so the HTTP handler cannot be given it.
  const config = loadConfig({ ...standIns.settings, EXOSEND_RATE_PER_MINUTE: String(limit) });
  const tokens = new TokenProvider(createAppCredential(config), { expect: config });
  const transport = new MailboxTransport({ ...config, pacingWindowInMs: windowInMs }, tokens);
  const sender = new MailSender(config.mailbox, tokens, transport);

  await standIns.setLimits({ messagesPerMinute: limit, rateWindowInMs: windowInMs, maxSessionsPerMailbox: 3 });
  await standIns.reset();
  try {
    const until = performance.now() + windows * windowInMs;
    let index = 0;
    const caller = async () => {
      while (performance.now() < until) {
        const id = `pacing-${index}`;
        const request = parseMailRequest(JSON.stringify(benchRequest(index++)), config);
        await withRetries(() => sender.send(request, id), inCallRetryPolicy);
      }
    };
    await Promise.all(Array.from({ length: callers }, caller));
  } finally {
    transport.close();
    await standIns.setLimits({ messagesPerMinute: 0, rateWindowInMs: 60_000 });
  }

  const accepted = await standIns.acceptedTimes();
  const first = accepted[0] ?? 0;
  const inWindows = accepted.filter((t) => t < first + windows * windowInMs).length;
  const limitPerSecond = limit / (windowInMs / 1000);
  const achievedPerSecond = inWindows / ((windows * windowInMs) / 1000);
  return {
    limit,
    windowInMs,
    windows,
    callers,
    limitPerSecond,
    achievedPerSecond,
    deviation: achievedPerSecond / limitPerSecond - 1,
    maxInAnyWindow: maxInSlidingWindow(accepted, windowInMs),
    counts: await standIns.counts(config.mailbox),
  };
}

/** The largest number of sorted times within any span of `windowInMs` (as the stand-in counts: (t - window, t]). */
function maxInSlidingWindow(sorted: readonly number[], windowInMs: number): number {
  let max = 0;
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while (sorted[start]! <= sorted[end]! - windowInMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}
