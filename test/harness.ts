import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import functions, { type HttpResponseInit } from '@azure/functions';
import { sendMail } from '../src/functions/send.js';
import { resetRuntime } from '../src/runtime/runtime.js';
import { sandboxScenarios, startSandbox, type Sandbox } from '../local/sandbox/index.js';
import { observedDir } from './observed.js';

// the package is CommonJS that Node's ESM loader cannot read these names from
const { HttpRequest, InvocationContext } = functions;

export { observedDir };

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: any;
}

type Handler = (
  request: InstanceType<typeof HttpRequest>,
  context: InstanceType<typeof InvocationContext>,
) => Promise<HttpResponseInit>;

export interface HttpCall {
  method?: string;
  /** The route after /api/, e.g. `messages/abc`. */
  route: string;
  params?: Record<string, string>;
  body?: unknown;
  raw?: string;
  /** The body as bytes, for what a string cannot hold (invalid UTF-8). */
  bytes?: Uint8Array;
  headers?: Record<string, string>;
}

export interface Harness {
  sandbox: Sandbox;
  /** Any HTTP function, driven as the host drives it. */
  http(handler: Handler, call: HttpCall): Promise<Reply>;
  /** A context for a non-HTTP trigger, whose log lines are observed like the others. */
  context(functionName: string, triggerMetadata?: Record<string, unknown>): InstanceType<typeof InvocationContext>;
  /** POST /api/send with a JSON body (or raw text), through the real handler. */
  send(body: unknown, options?: { raw?: string; bytes?: Uint8Array; headers?: Record<string, string> }): Promise<Reply>;
  /** Every log line the app wrote through its invocation contexts. */
  logs: string[];
  /** What the app produced outside a trigger (a probe report, a command's output), for the secret check; returns it. */
  observe<T>(output: T): T;
  /**
   * Starts the app cold, as a new worker would, with the sandbox's settings and these on top
   * (undefined removes one); settings given to an earlier restart do not carry over.
   */
  restartApp(settings?: Record<string, string | undefined>): void;
  /** Between tests: a healthy sandbox with zeroed counters, and the app started cold with these settings. */
  reset(settings?: Record<string, string | undefined>): void;
  /**
   * `reset` for a test about something other than pacing: exosend's own pacing lifted (these settings
   * on top) and the stand-in Exchange counting no rate (`reset` gives it Exchange Online's 30 a
   * minute back), so that many sends do not take minutes. Pacing has tests of its own.
   */
  resetUnpaced(settings?: Record<string, string | undefined>): void;
  close(): Promise<void>;
}

/** A function key, as the host would hold it: the app must never repeat it. */
export const functionKey = `fk-${randomUUID()}`;

/**
 * The sandbox (identity platform, Key Vault, Exchange) on loopback, the app's settings pointing at
 * it, and the HTTP handler driven as the Functions host drives it.
 */
export async function startHarness(testFile: string): Promise<Harness> {
  const sandbox = await startSandbox();
  const logs: string[] = [];
  const observed: string[] = [];
  const applied = new Set<string>();

  const restartApp = (settings: Record<string, string | undefined> = {}) => {
    resetRuntime();
    const wanted = { ...sandbox.settings, ...settings };
    // a setting an earlier restart added is gone again, as on a new worker
    for (const name of applied) if (!(name in wanted)) delete process.env[name];
    for (const [name, value] of Object.entries(wanted)) {
      applied.add(name);
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  restartApp();

  const context: Harness['context'] = (functionName, triggerMetadata = {}) =>
    new InvocationContext({
      functionName,
      invocationId: randomUUID(),
      triggerMetadata,
      logHandler: (_level, ...args) => {
        const line = args.map(String).join(' ');
        logs.push(line);
        observed.push(line);
      },
    });

  const http: Harness['http'] = async (handler, call) => {
    const body = call.raw ?? (call.body === undefined ? undefined : JSON.stringify(call.body));
    const request = new HttpRequest({
      method: call.method ?? 'POST',
      url: `http://127.0.0.1:7071/api/${call.route}?code=${functionKey}`,
      headers: { 'content-type': 'application/json', 'x-functions-key': functionKey, ...call.headers },
      params: call.params ?? {},
      ...(call.bytes ? { body: { bytes: call.bytes } } : body !== undefined && { body: { string: body } }),
    });
    const response: HttpResponseInit = await handler(request, context(call.route));
    const reply: Reply = {
      status: response.status ?? 200,
      headers: Object.fromEntries(new Headers(response.headers as Record<string, string> | undefined).entries()),
      body: response.jsonBody,
    };
    observed.push(JSON.stringify(reply));
    return reply;
  };

  const send: Harness['send'] = (body, options = {}) =>
    http(sendMail, {
      route: 'send',
      body,
      ...(options.raw !== undefined && { raw: options.raw }),
      ...(options.bytes && { bytes: options.bytes }),
      ...(options.headers && { headers: options.headers }),
    });

  const observe: Harness['observe'] = (output) => {
    observed.push(typeof output === 'string' ? output : JSON.stringify(output));
    return output;
  };

  const close = async () => {
    resetRuntime();
    for (const name of applied) delete process.env[name];
    mkdirSync(observedDir, { recursive: true });
    const name = `${basename(testFile).replace(/\W+/g, '-')}-${process.pid}`;
    // every telemetry batch the app sent is something it said, too
    observed.push(...sandbox.appInsights.bodies);
    appendFileSync(join(observedDir, `${name}.observed.txt`), observed.join('\n') + '\n');
    appendFileSync(
      join(observedDir, `${name}.secrets.txt`),
      [...sandbox.knownSecrets(), functionKey].join('\n') + '\n',
    );
    await sandbox.close();
  };

  const reset: Harness['reset'] = (settings) => {
    sandboxScenarios.healthy(sandbox);
    restartApp(settings);
    sandbox.identity.resetCounters();
    sandbox.vault.resetCounters();
    sandbox.exchange.resetCounters();
  };

  const resetUnpaced: Harness['resetUnpaced'] = (settings) => {
    reset({ EXOSEND_RATE_PER_MINUTE: '100000', ...settings });
    sandbox.exchange.setLimits({ messagesPerMinute: 0 });
  };

  return { sandbox, http, context, send, logs, observe, restartApp, reset, resetUnpaced, close };
}

/** A valid request: each test changes what it is about. */
export function mailRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    to: ['ada@fabrikam.example'],
    subject: 'Quarterly report',
    text: 'The report is attached.',
    ...overrides,
  };
}
