// `npm run bench` (scripts/bench.mjs builds and trusts the sandbox CA, then runs this): what exosend
// costs per message against nodemailer alone and against the support article's way, on loopback
// stand-ins. Prints one table and writes the same figures as JSON. Nothing here runs in `npm test`.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { measureColdStart, type Entry } from './cold-start.js';
import { measureHostileInput } from './hostile-input.js';
import { measureCostRun } from './cost-run.js';
import { describeMachine, loadAverage } from './machine.js';
import { readBenchOptions } from './options.js';
import { measurePacing } from './pacing.js';
import { measureQueueDrain } from './queue-drain.js';
import { measureScaleOut } from './scale-out.js';
import { formatReport } from './report.js';
import type { BenchResults } from './results.js';
import { launchStandIns } from './stand-ins-client.js';
import { judgeTargets } from './targets.js';
import { formatTransportsReport } from './transports-report.js';
import { measureTransports } from './transports.js';
import { measureWarmSends } from './warm-sends.js';

const argv = process.argv.slice(2);
const options = readBenchOptions(argv);
const progress = (message: string) => console.error(`[bench] ${message}`);

const shippedEntry = (JSON.parse(readFileSync('package.json', 'utf8')) as { main: string }).main;
const tscBuild: Entry = { name: 'tsc build', path: 'dist/src/index.js' };
const bundle: Entry = { name: 'bundle', path: 'dist/bundle/index.mjs' };
// what a bundle of the HTTP send trigger alone loads: the most that lazy storage SDKs could still save
const sendOnly: Entry = { name: 'send trigger alone (reference)', path: 'dist/bench/bundles/send.mjs' };
// the zip `npm run package` builds, unpacked by scripts/bench.mjs: its own node_modules, nothing from the repository's
const deployed: Entry = { name: 'deployed artefact (unpacked zip)', path: 'dist/bench/deployed/dist/bundle/index.mjs' };

const started = Date.now();
const loadAtStart = loadAverage();
const sectionSeconds: Record<string, number> = {};
/** Runs one section of the issue's list, saying so on stderr (stdout is the table's). */
const section = async <T>(name: string, what: string, run: () => Promise<T>): Promise<T> => {
  progress(`${name}: ${what}`);
  const sectionStarted = performance.now();
  const result = await run();
  sectionSeconds[name] = Math.round((performance.now() - sectionStarted) / 100) / 10;
  progress(`${name}: done in ${sectionSeconds[name]} s`);
  return result;
};

const standIns = await launchStandIns();
let measured: Omit<BenchResults, 'targets' | 'load' | 'durationSeconds' | 'sectionSeconds'>;
try {
  const warm = await section(
    '1 warm sends',
    `${options.warm.rounds} interleaved rounds of floor, exosend and baseline`,
    () => measureWarmSends(standIns, options.warm),
  );
  const cost = await section(
    '2+4 cost and memory',
    `${options.costMessages} messages from a fresh worker (${shippedEntry})`,
    () => measureCostRun(standIns, shippedEntry, options.costMessages, options.warm.concurrency),
  );
  const coldStart = await section('3 cold start', 'fresh processes', () =>
    measureColdStart(
      standIns,
      { loads: [tscBuild, bundle, deployed, sendOnly], firstSends: [tscBuild, bundle] },
      { load: options.coldStart.loadRepetitions, firstSend: options.coldStart.firstSendRepetitions },
    ),
  );
  const pacing = await section('5 pacing', `${options.pacing.windows} windows of ${options.pacing.windowInMs} ms`, () =>
    measurePacing(standIns, options.pacing, options.warm.concurrency),
  );
  const queue = await section('6 queue drain', `${options.queueMessages} messages through Azurite`, () =>
    measureQueueDrain(standIns, options.queueMessages),
  );
  const hostile = await section(
    '7 hostile input',
    `${options.hostile.megabytes} MB bodies refused and parsed, ${options.hostile.repetitions} times each`,
    () => Promise.resolve(measureHostileInput(options.hostile.megabytes, options.hostile.repetitions)),
  );
  const scaleOut = await section(
    '8 scale-out',
    '1, 2 and 4 mailboxes, 1 and 3 worker processes, the budget shared through Azurite',
    () => measureScaleOut(standIns, options.scaleOut),
  );
  const transports = await section(
    '9 SMTP and Graph',
    `${options.warm.rounds} interleaved rounds of exosend over SMTP and over Graph, then each at the budget`,
    () => measureTransports(standIns, { ...options.warm, pacing: options.pacing }),
  );
  measured = {
    date: new Date().toISOString(),
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    quick: options.quick,
    machine: describeMachine(),
    shippedEntry,
    warm,
    cost,
    coldStart,
    deployedPackage: {
      zipBytes: statSync('dist/exosend.zip').size,
      unpackedBytes: Number(readFileSync('dist/bench/deployed.size', 'utf8')),
    },
    pacing,
    queue,
    hostile,
    scaleOut,
    transports,
  };
} finally {
  await standIns.close();
}

const partial = {
  ...measured,
  load: { start: loadAtStart, end: loadAverage() },
  durationSeconds: (Date.now() - started) / 1000,
  sectionSeconds,
};
const results: BenchResults = { ...partial, targets: judgeTargets(partial) };
console.log(formatReport(results));
console.log(`\n${formatTransportsReport(results.transports)}`);
mkdirSync(dirname(options.out), { recursive: true });
writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
progress(`results written to ${options.out}`);
// the benchmark reports what it finds; a missed target is in the table, not an exit code
process.exit(0);
