import { runSendChild } from './child-process.js';
import type { SendChildReport } from './send-child.js';
import type { StandInCounts } from './stand-ins.js';
import type { StandIns } from './stand-ins-client.js';

export interface CostRun {
  entry: string;
  messages: number;
  concurrency: number;
  /** What Entra, Key Vault and Exchange saw of the run: a fresh worker, cold to the last message. */
  counts: StandInCounts;
  child: SendChildReport;
}

/** A fresh worker sends `messages` through /api/send; the stand-ins count, the worker reports its peak memory. */
export async function measureCostRun(
  standIns: StandIns,
  entry: string,
  messages: number,
  concurrency: number,
): Promise<CostRun> {
  await standIns.reset();
  const { report } = await runSendChild(
    ['--entry', entry, '--count', String(messages), '--concurrency', String(concurrency)],
    standIns.settings,
  );
  return {
    entry,
    messages,
    concurrency,
    counts: await standIns.counts(standIns.info.mailboxes.exosend),
    child: report,
  };
}
