// A fresh worker process: loads a deployable entry (the registrations are learned as the local host
// learns them), sends through its /api/send handler, and prints one JSON line (SendChildReport).
// The stand-ins run in the parent, so this process's memory is exosend's alone.
// `node dist/bench/send-child.js --entry FILE [--count N] [--concurrency N]`, settings in the environment.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import functions, { type HttpFunctionOptions } from '@azure/functions';
import { drive } from './drive.js';
import { benchRequest } from './message.js';

export interface SendChildReport {
  /** Time to import the entry, in this process. */
  loadMs: number;
  /** `performance.now()` (ms since this process started) when the first 200 arrived. */
  firstAcceptedAtMs: number | undefined;
  sendMs: number;
  sent: number;
  failures: number;
  firstError: string | undefined;
  /** `process.resourceUsage().maxRSS`: peak resident memory of this process, in KB. */
  maxRssKb: number;
  /** Resident memory once the entry was loaded, before the first send, in KB. */
  rssAfterLoadKb: number;
}

const { values } = parseArgs({
  options: { entry: { type: 'string' }, count: { type: 'string' }, concurrency: { type: 'string' } },
});
if (!values.entry) throw new Error('--entry is required');
const { app, HttpRequest, InvocationContext } = functions;

const handlers = new Map<string, HttpFunctionOptions['handler']>();
const registry = app as unknown as Record<'http' | 'storageQueue' | 'timer', unknown>;
registry.http = (name: string, options: HttpFunctionOptions) => handlers.set(name, options.handler);
registry.storageQueue = () => undefined;
registry.timer = () => undefined;

const loadStarted = performance.now();
await import(pathToFileURL(resolve(values.entry)).href);
const loadMs = performance.now() - loadStarted;
const rssAfterLoadKb = Math.round(process.memoryUsage.rss() / 1024);
const send = handlers.get('send');
if (!send) throw new Error(`${values.entry} registers no "send" function`);

const batch = await drive(
  Number(values.count ?? 1),
  Number(values.concurrency ?? 1),
  (index) => ({
    request: new HttpRequest({
      method: 'POST',
      url: 'http://127.0.0.1:7071/api/send',
      headers: { 'content-type': 'application/json' },
      body: { string: JSON.stringify(benchRequest(index)) },
    }),
    context: new InvocationContext({ functionName: 'send', logHandler: () => undefined }),
  }),
  async ({ request, context }) => {
    const response = await send(request, context);
    if ((response as { status?: number }).status !== 200) throw new Error(`answered ${JSON.stringify(response)}`);
  },
);

const report: SendChildReport = {
  loadMs,
  firstAcceptedAtMs: batch.firstSuccessAt,
  sendMs: batch.durationMs,
  sent: batch.latenciesMs.length,
  failures: batch.failures,
  firstError: batch.firstError,
  maxRssKb: process.resourceUsage().maxRSS,
  rssAfterLoadKb,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
// the SMTP pool would keep a worker alive: this one is done
process.exit(0);
