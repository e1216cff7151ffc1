// A focused driver for profiling the warm send path: exosend's real /api/send handler (as in section
// 1: the same settings, no storage, the stand-ins in their own process) and the floor, each warmed
// up, then interleaved batches; with --profile, a CPU profile of this process around each one's last
// batch (FILE for exosend, FILE.floor for the floor). Prints the client CPU per message of both, so
// that a change is judged against the floor in the same run (bench/README.md, "Profiling").
// After a build (`npm run bench` or `npm test` builds): NODE_EXTRA_CA_CERTS=.exosend/sandbox/ca.pem
// node dist/bench/profile-send.js [--count N] [--concurrency N] [--rounds N] [--profile FILE]
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { drive, type Batch } from './drive.js';
import { loadAverage } from './machine.js';
import { exosendSender, floorSender, type Sender } from './senders.js';
import { launchStandIns } from './stand-ins-client.js';
import { median } from './stats.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string' },
    concurrency: { type: 'string' },
    rounds: { type: 'string' },
    profile: { type: 'string' },
  },
});
const count = Number(values.count ?? 2000);
const concurrency = Number(values.concurrency ?? 8);
const rounds = Number(values.rounds ?? 3);

const standIns = await launchStandIns();
const session = new Session();
session.connect();
try {
  standIns.restartApp();
  const senders: Sender<unknown>[] = [await floorSender(standIns.info), exosendSender()];
  const run = async (sender: Sender<unknown>): Promise<Batch> => {
    await standIns.reset();
    const batch = await drive(
      count,
      concurrency,
      (i) => sender.prepare(i),
      (p) => sender.send(p),
    );
    if (batch.failures > 0) throw new Error(`${sender.name}: ${batch.failures} failed, first: ${batch.firstError}`);
    return batch;
  };
  for (const sender of senders)
    await drive(
      100,
      concurrency,
      (i) => sender.prepare(i),
      (p) => sender.send(p),
    );
  const cpu: Record<string, number[]> = { floor: [], exosend: [] };
  const p50: Record<string, number[]> = { floor: [], exosend: [] };
  for (let round = 0; round < rounds; round++) {
    for (const sender of round % 2 ? [...senders].reverse() : senders) {
      const profiled = round === rounds - 1 && values.profile;
      if (profiled) {
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 200 });
        await session.post('Profiler.start');
      }
      const batch = await run(sender);
      if (profiled) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(sender.name === 'exosend' ? values.profile! : `${values.profile}.floor`, JSON.stringify(profile));
      }
      cpu[sender.name]!.push(batch.cpuUs / count);
      p50[sender.name]!.push(median(batch.latenciesMs));
    }
  }
  for (const sender of senders) sender.close();
  const line = (name: string) =>
    `${name.padEnd(8)} client CPU us/msg ${cpu[name]!.map((c) => c.toFixed(0)).join(' ')} (median ${median(cpu[name]!).toFixed(0)}); p50 ms ${p50[name]!.map((p) => p.toFixed(2)).join(' ')}`;
  console.log(`${count} messages, ${concurrency} caller(s), ${rounds} rounds; load average ${loadAverage()}`);
  console.log(line('floor'));
  console.log(line('exosend'));
  console.log(
    `exosend - floor: ${(median(cpu.exosend!) - median(cpu.floor!)).toFixed(0)} us/msg; p50 ratio ${(median(p50.exosend!) / median(p50.floor!)).toFixed(2)}x`,
  );
} finally {
  session.disconnect();
  await standIns.close();
}
process.exit(0);
