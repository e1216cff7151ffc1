import { parseArgs } from 'node:util';

/** How big each section's run is; `--quick` keeps the whole benchmark under a minute. */
export interface BenchOptions {
  quick: boolean;
  /** Where the results JSON goes. */
  out: string;
  warm: {
    rounds: number;
    /** Messages per batch, per round, for the floor and exosend; the baseline gets fewer (it is ~10x slower per message). */
    sequential: { fast: number; baseline: number };
    concurrent: { fast: number; baseline: number };
    concurrency: number;
    /** Messages per round of the baseline held to Exchange's 3 sessions (3 callers). */
    baselineWithinLimit: number;
  };
  /** Messages of the cost and memory run, in a fresh process. */
  costMessages: number;
  coldStart: { loadRepetitions: number; firstSendRepetitions: number };
  pacing: { limit: number; windowInMs: number; windows: number };
  queueMessages: number;
  /** Size of each hostile body, and how often each is refused and parsed. */
  hostile: { megabytes: number; repetitions: number };
  scaleOut: { limit: number; windowInMs: number; windows: number };
}

export const usage = `usage: npm run bench [-- --quick] [--out FILE]

  --quick      every section smaller: under a minute (the cost run is 1,000 messages, not 10,000)
  --out FILE   where to write the results JSON (default bench/results/latest.json)`;

export function readBenchOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const quick = values.quick === true;
  return {
    quick,
    out: values.out ?? 'bench/results/latest.json',
    warm: quick
      ? {
          rounds: 3,
          sequential: { fast: 150, baseline: 15 },
          concurrent: { fast: 400, baseline: 40 },
          concurrency: 8,
          baselineWithinLimit: 20,
        }
      : {
          rounds: 8,
          sequential: { fast: 250, baseline: 25 },
          concurrent: { fast: 600, baseline: 60 },
          concurrency: 8,
          baselineWithinLimit: 40,
        },
    costMessages: quick ? 1_000 : 10_000,
    coldStart: quick
      ? { loadRepetitions: 5, firstSendRepetitions: 3 }
      : { loadRepetitions: 15, firstSendRepetitions: 7 },
    // 50 messages a second, Exchange's 30 a minute scaled up 100x, over windows short enough for a short run
    pacing: quick ? { limit: 75, windowInMs: 1_500, windows: 4 } : { limit: 250, windowInMs: 5_000, windows: 6 },
    queueMessages: quick ? 500 : 2_000,
    // the largest body exosend reads is 38.5 MB (35 MB and a tenth for JSON's keys and escapes)
    hostile: quick ? { megabytes: 8, repetitions: 3 } : { megabytes: 36, repetitions: 5 },
    // per mailbox: 20 messages a second; with 4 mailboxes 80 a second for the cluster
    scaleOut: quick ? { limit: 20, windowInMs: 1_000, windows: 2 } : { limit: 40, windowInMs: 2_000, windows: 3 },
  };
}
