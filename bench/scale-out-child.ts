// One worker process of the scale-out section: exosend's pipeline as createRuntime() builds it (the
// shared budget in Azurite), sending from each mailbox of --mailboxes with --callers callers until
// --until (ms since the epoch); prints one JSON line (ScaleOutChildReport). Settings in the environment.
import { parseArgs } from 'node:util';
import { BudgetExhausted } from '../src/budget/budget.js';
import { loadConfig } from '../src/config/load-config.js';
import { parseMailRequest } from '../src/mail/parse-request.js';
import { createRuntime } from '../src/runtime/runtime.js';
import { benchRequest } from './message.js';

export interface ScaleOutChildReport {
  sent: number;
  /** Sends the budget made wait past the call's wait (a 429 at /api/send). */
  exhausted: number;
  errors: number;
  firstError: string | undefined;
  /** Storage reads and writes of every mailbox's budget in this process. */
  roundTrips: number;
}

const { values } = parseArgs({
  options: {
    mailboxes: { type: 'string' },
    callers: { type: 'string' },
    until: { type: 'string' },
    worker: { type: 'string' },
  },
});
const mailboxes = (values.mailboxes ?? '').split(',');
const until = Number(values.until);
const runtime = createRuntime(loadConfig());
await runtime.tokens.getToken();
const report: ScaleOutChildReport = { sent: 0, exhausted: 0, errors: 0, firstError: undefined, roundTrips: 0 };
let index = 0;
await Promise.all(
  Array.from({ length: Number(values.callers ?? 4) }, async (_, caller) => {
    const from = mailboxes[caller % mailboxes.length]!;
    while (Date.now() < until) {
      const id = `scale-${values.worker}-${index++}`;
      const request = parseMailRequest(JSON.stringify({ ...benchRequest(index), from }), runtime.config);
      try {
        await runtime.sender.send(request, id, { waitUpToMs: Math.max(0, until - Date.now()) });
        report.sent++;
      } catch (error) {
        if (error instanceof BudgetExhausted) report.exhausted++;
        else {
          report.errors++;
          report.firstError ??= String(error);
        }
      }
    }
  }),
);
report.roundTrips = [...runtime.transports.values()].reduce((sum, t) => sum + t.budget.roundTrips, 0);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
