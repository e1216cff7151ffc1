import type { ColdStart } from './cold-start.js';
import type { CostRun } from './cost-run.js';
import type { HostileInput } from './hostile-input.js';
import type { Machine } from './machine.js';
import type { Pacing } from './pacing.js';
import type { QueueDrain } from './queue-drain.js';
import type { ScaleOut } from './scale-out.js';
import type { Target } from './targets.js';
import type { TransportSends } from './transports.js';
import type { WarmSends } from './warm-sends.js';

/** Everything a run measured: written as JSON, and the table is made from it. */
export interface BenchResults {
  date: string;
  command: string;
  quick: boolean;
  machine: Machine;
  /** 1-minute load average when the run started and ended. */
  load: { start: number; end: number };
  durationSeconds: number;
  /** How long each section took, by its number in the list. */
  sectionSeconds: Record<string, number>;
  /** package.json "main": the entry the Functions host loads. */
  shippedEntry: string;
  warm: WarmSends;
  cost: CostRun;
  coldStart: ColdStart;
  /** dist/exosend.zip (npm run package): its size, and the bytes of what it unpacks to. */
  deployedPackage: { zipBytes: number; unpackedBytes: number };
  pacing: Pacing;
  queue: QueueDrain;
  hostile: HostileInput;
  scaleOut: ScaleOut;
  /** exosend over SMTP and over Microsoft Graph, side by side (section 9). */
  transports: TransportSends;
  targets: Target[];
}
