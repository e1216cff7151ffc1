import { createInterface } from 'node:readline';
import { TableClient } from '@azure/data-tables';
import { budgetTable } from '../src/budget/table-budget.js';
import { startAzurite } from '../local/sandbox/azurite.js';
import { spawnWithParent } from '../cli/spawn-with-parent.js';
import type { ScaleOutChildReport } from './scale-out-child.js';
import { scaleOutMailboxes } from './stand-ins.js';
import type { StandIns } from './stand-ins-client.js';

export interface ScaleOutRow {
  mailboxes: number;
  workers: number;
  /** Sum of the mailboxes' limits, per second. */
  limitPerSecond: number;
  /** Messages Exchange accepted in the measured windows, per second. */
  achievedPerSecond: number;
  /** achieved / limit. */
  fraction: number;
  /** The most any mailbox had accepted in one sliding window: never above `limit`. */
  maxInAnyWindow: number;
  maxSessions: number;
  replies432: number;
  repliesRateLimit: number;
  /** Storage round trips of the shared budget per accepted message. */
  roundTripsPerMessage: number;
  exhausted: number;
  errors: number;
}

export interface ScaleOut {
  limit: number;
  windowInMs: number;
  windows: number;
  rows: ScaleOutRow[];
}

/**
 * Worker processes (1 and 3) sending from 1, 2 and 4 mailboxes at once, each mailbox's limit scaled
 * to `limit` per `windowInMs`, the budget shared through Azurite, the stand-in enforcing the same
 * limits: how close all of them together come to the sum of the mailboxes' limits.
 */
export async function measureScaleOut(
  standIns: StandIns,
  options: { limit: number; windowInMs: number; windows: number },
): Promise<ScaleOut> {
  const azurite = await startAzurite();
  const table = TableClient.fromConnectionString(azurite.connectionString, budgetTable, {
    allowInsecureConnection: true,
  });
  await table.createTable();
  const rows: ScaleOutRow[] = [];
  try {
    for (const mailboxCount of [1, 2, 4]) {
      for (const workers of [1, 3]) {
        for await (const e of table.listEntities()) await table.deleteEntity(e.partitionKey!, e.rowKey!);
        await standIns.setLimits({
          messagesPerMinute: options.limit,
          rateWindowInMs: options.windowInMs,
          maxSessionsPerMailbox: 3,
        });
        await standIns.reset();
        const mailboxes = scaleOutMailboxes.slice(0, mailboxCount);
        const settings = {
          ...standIns.settings,
          AzureWebJobsStorage: azurite.connectionString,
          EXOSEND_MAILBOXES: mailboxes.join(','),
          EXOSEND_RATE_PER_MINUTE: String(options.limit),
          EXOSEND_RATE_WINDOW_SECONDS: String(options.windowInMs / 1000),
        };
        // a second to start (load, token), then the measured windows and one more as a margin
        const until = Date.now() + 1500 + (options.windows + 1) * options.windowInMs;
        const reports = await Promise.all(
          Array.from({ length: workers }, (_, w) =>
            runChild(
              [
                '--mailboxes',
                mailboxes.join(','),
                '--callers',
                String(4 * mailboxCount),
                '--until',
                String(until),
                '--worker',
                String(w),
              ],
              settings,
            ),
          ),
        );
        const byMailbox = await standIns.acceptedTimesByMailbox();
        const counts = await standIns.counts();
        let inWindows = 0;
        let maxInAnyWindow = 0;
        for (const mailbox of mailboxes) {
          const times = byMailbox[mailbox] ?? [];
          const first = times[0] ?? 0;
          inWindows += times.filter((t) => t < first + options.windows * options.windowInMs).length;
          maxInAnyWindow = Math.max(maxInAnyWindow, maxInSlidingWindow(times, options.windowInMs));
        }
        const limitPerSecond = (mailboxCount * options.limit) / (options.windowInMs / 1000);
        const achievedPerSecond = inWindows / ((options.windows * options.windowInMs) / 1000);
        const accepted = Object.values(byMailbox).reduce((sum, t) => sum + t.length, 0);
        rows.push({
          mailboxes: mailboxCount,
          workers,
          limitPerSecond,
          achievedPerSecond,
          fraction: achievedPerSecond / limitPerSecond,
          maxInAnyWindow,
          maxSessions: counts.maxConcurrentSessions,
          replies432: counts.replies432,
          repliesRateLimit: counts.repliesRateLimit,
          roundTripsPerMessage: reports.reduce((sum, r) => sum + r.roundTrips, 0) / Math.max(1, accepted),
          exhausted: reports.reduce((sum, r) => sum + r.exhausted, 0),
          errors: reports.reduce((sum, r) => sum + r.errors, 0),
        });
        const firstError = reports.find((r) => r.firstError)?.firstError;
        if (firstError) console.error(`[bench] scale-out: ${firstError}`);
      }
    }
  } finally {
    await standIns.setLimits({ messagesPerMinute: 0, rateWindowInMs: 60_000 });
    await azurite.close();
  }
  return { ...options, rows };
}

async function runChild(args: string[], settings: Record<string, string>): Promise<ScaleOutChildReport> {
  // a benchmark stopped by a signal must not leave a worker sending
  const child = spawnWithParent('dist/bench/scale-out-child.js', args, { env: { ...process.env, ...settings } });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.startsWith('{')) {
      await exited;
      return JSON.parse(line) as ScaleOutChildReport;
    }
  }
  throw new Error(`scale-out child exited (${await exited}) without a report:\n${stderr.trim()}`);
}

function maxInSlidingWindow(sorted: readonly number[], windowInMs: number): number {
  let max = 0;
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while (sorted[start]! <= sorted[end]! - windowInMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}
