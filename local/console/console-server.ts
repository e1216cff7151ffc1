import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { sandboxScenarios, scenarioSettings, type Sandbox, type SandboxScenarioName } from '../sandbox/index.js';
import { invocationContext, type LogSink } from '../host/invocation.js';
import type { Registrations } from '../host/registrations.js';
import { consoleRefusal } from './console-guard.js';
import type { DeadLetters } from './dead-letters.js';
import { appMessage } from './app-message.js';
import { addSuppression, type SuppressionList } from './suppressions.js';
import { Outbox } from './outbox.js';
import { withCaller } from './outbox-callers.js';
import { listCallers } from './callers.js';
import { applySandboxCallers } from '../sandbox/apply-callers.js';
import type { StorageConnection } from '../../src/config/storage-connection.js';
import type { StatusStore } from '../../src/queue/status-store.js';
import { readCallerAuth } from '../../src/config/caller-auth.js';

export interface ConsoleOptions {
  /** Where the app listens: http://127.0.0.1:PORT. */
  baseUrl: () => string;
  functionKey: string;
  mode: string;
  registrations: Registrations;
  /** The sandbox, in sandbox mode: the outbox and the scenarios are its. */
  sandbox: Sandbox | undefined;
  scenario: string;
  /** The scenario was switched from the page, and the app's settings with it. */
  scenarioSwitched?: (name: string) => void;
  deadLetters: DeadLetters | undefined;
  /** The shared suppression list (Table storage), when storage is configured. */
  suppressions?: SuppressionList | undefined;
  /** The app's storage (AzureWebJobsStorage): its caller policies and the budget's ledger, for the Callers view. */
  storage?: StorageConnection | undefined;
  /** The app's status records, which name each message's caller. */
  records?: StatusStore | undefined;
  log: LogSink;
}

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

const pageDir = fileURLToPath(new URL('../../../local/console/page/', import.meta.url));
/** The page's modules (page/*.ts), bundled into one script beside this file's build by scripts/console-page.mjs. */
const scriptFile = fileURLToPath(new URL('./page/console.js', import.meta.url));
/** Everything the page loads: a fixed list, so no path from a request ever names a file. */
const assets: Record<string, { file: string; type: string }> = {
  '/': { file: `${pageDir}index.html`, type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: scriptFile, type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { file: `${pageDir}console.css`, type: 'text/css; charset=utf-8' },
};

/** The page's own policy: its scripts and styles only, frames only from here, framed by nobody. */
const pagePolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";
/**
 * A message's HTML: no script, no request anywhere (remote images and fonts included), inline
 * styles as mail uses them; `sandbox` makes it an origin of its own even if opened on its own.
 */
const messagePolicy =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

/**
 * The local console: a page at / and its JSON calls under /console/api. Served only by the local
 * host, on loopback, to its own page (console-guard.ts); never part of the deployed app.
 */
export function createConsole(options: ConsoleOptions): ConsoleHandler {
  const outbox = options.sandbox && new Outbox(options.sandbox.exchange);
  let scenario = options.scenario;
  const port = () => Number(new URL(options.baseUrl()).port);
  const healthTimer = options.registrations.timers.find((t) => t.name === 'health');
  const resetApp = options.registrations.entry['resetRuntime'] as (() => void) | undefined;

  const appHealth = async () => {
    const response = await fetch(`${options.baseUrl()}/api/health`, {
      headers: { 'x-functions-key': options.functionKey },
    });
    return { httpStatus: response.status, ...((await response.json()) as object) };
  };
  const runCheck = async () => {
    if (!healthTimer) throw new Error('the app registers no health timer');
    const timer = {
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: { last: '', next: '', lastUpdated: new Date().toISOString() },
    };
    await healthTimer.handler(timer, invocationContext(healthTimer.name, {}, options.log));
    return appHealth();
  };

  const api: Record<string, (req: IncomingMessage, parts: string[]) => Promise<Reply>> = {
    'GET session': () =>
      Promise.resolve({
        json: {
          mode: options.mode,
          sandbox: options.sandbox !== undefined,
          baseUrl: options.baseUrl(),
          functionKey: options.functionKey,
          mailbox: process.env['EXOSEND_MAILBOX'] ?? null,
          allowedSenders: (process.env['EXOSEND_ALLOWED_SENDERS'] ?? '').split(',').filter(Boolean),
          scenario,
          scenarios: Object.entries(sandboxScenarios).map(([name, s]) => ({ name, description: s.description })),
          deadLetters: options.deadLetters !== undefined,
          callers: options.storage !== undefined,
          callerAuth: readCallerAuth().mode,
        },
      }),
    'GET outbox': async () =>
      outbox
        ? { json: { messages: await Promise.all((await outbox.list()).map((m) => withCaller(m, options.records))) } }
        : sandboxOnly(),
    'GET outbox/*': async (_req, [id]) => {
      const detail = outbox && (await outbox.detail(id!));
      return detail ? { json: await withCaller(detail, options.records) } : notFound('No such message in the outbox.');
    },
    // each caller's policy and what the shared ledger counts for it, read fresh at each call
    'GET callers': async () => (options.storage ? { json: await listCallers(options.storage) } : noStorage()),
    'GET dead-letters': async () =>
      options.deadLetters ? { json: { letters: await options.deadLetters.list() } } : noStorage(),
    'POST dead-letters/*/requeue': async (_req, [messageId]) => {
      if (!options.deadLetters) return noStorage();
      const result = await options.deadLetters.requeue(messageId!);
      if (!result) return notFound('This dead letter is no longer on the poison queue.');
      if ('refused' in result)
        return { status: 409, json: { error: { message: `It cannot be put back: ${result.refused}.` } } };
      return { json: result.outcome };
    },
    // the app's own answer (GET /api/messages/{id}, delivery included), asked with the local key here, never by the page
    'GET messages/*': async (_req, [id]) => appMessage(options.baseUrl(), options.functionKey, id!),
    'GET suppressions': async () =>
      options.suppressions ? { json: { suppressions: await options.suppressions.list() } } : noStorage(),
    'POST suppressions': async (req) =>
      options.suppressions ? addSuppression(options.suppressions, await readJson(req)) : noStorage(),
    'DELETE suppressions/*': async (_req, [recipient]) => {
      if (!options.suppressions) return noStorage();
      const removed = await options.suppressions.remove(recipient!);
      return removed
        ? { json: { recipient: recipient!.toLowerCase(), suppressed: false } }
        : notFound('This address is not on the suppression list.');
    },
    'GET health': async () => ({ json: await appHealth() }),
    'POST health/check': async () => ({ json: await runCheck() }),
    'POST scenario': async (req) => {
      if (!options.sandbox) return sandboxOnly();
      const { name } = (await readJson(req)) as { name?: string };
      if (typeof name !== 'string' || !(name in sandboxScenarios))
        return {
          status: 400,
          json: { error: { message: `Unknown scenario. Known: ${Object.keys(sandboxScenarios).join(', ')}.` } },
        };
      sandboxScenarios[name as SandboxScenarioName](options.sandbox);
      applyScenarioSettings(options.sandbox, name as SandboxScenarioName);
      // the caller policies and ledger it wants live in exosend's storage, not in a stand-in
      if (options.storage)
        await applySandboxCallers(
          sandboxScenarios[name as SandboxScenarioName].callers(options.sandbox),
          options.storage,
        );
      scenario = name;
      options.scenarioSwitched?.(name);
      // as `npm start -- --scenario NAME` would: the app starts cold, with no token or secret cached before the switch
      resetApp?.();
      options.log('info', 'console', `sandbox scenario switched to ${name}; the app starts cold`);
      return { json: { scenario, health: await runCheck() } };
    },
  };

  return async (req, res, url) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const asset = assets[url.pathname];
    if (asset && method === 'GET') {
      const refusal = consoleRefusal(req, port(), 'page');
      if (refusal) return send(res, { status: 403, json: { error: { message: refusal } } });
      const body = await readFile(asset.file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' && asset.file === scriptFile)
          throw new Error(
            `the console's script is not built (${scriptFile}): npm start builds it, or node scripts/console-page.mjs`,
          );
        throw error;
      });
      return send(res, { body, type: asset.type, policy: pagePolicy });
    }
    const message = /^\/console\/message\/([\w-]+)\/(html|attachments\/(\d+))$/.exec(url.pathname);
    if (message && method === 'GET') {
      const refusal = consoleRefusal(req, port(), 'page');
      if (refusal) return send(res, { status: 403, json: { error: { message: refusal } } });
      return send(res, await messagePart(outbox, message[1]!, message[3]));
    }
    if (url.pathname === '/console/events' && method === 'GET') {
      const refusal = consoleRefusal(req, port(), 'page');
      if (refusal) return send(res, { status: 403, json: { error: { message: refusal } } });
      return events(req, res, outbox, options.records);
    }
    const path = url.pathname.startsWith('/console/api/') ? url.pathname.slice('/console/api/'.length) : undefined;
    // the guard first: another site learns nothing, not even which routes exist
    const refusal = consoleRefusal(req, port(), method === 'GET' ? 'json' : 'post');
    if (refusal) return send(res, { status: 403, json: { error: { message: refusal } } });
    const route = path === undefined ? undefined : findRoute(api, method, path);
    if (route === 'bad-escape')
      return send(res, { status: 400, json: { error: { message: 'The path has a malformed %-escape.' } } });
    if (!route)
      return send(res, {
        status: 404,
        json: { error: { message: 'Not found. The console is at /, the app under /api.' } },
      });
    try {
      send(res, await route.handler(req, route.parts));
    } catch (error) {
      options.log('error', 'console', `${method} ${url.pathname} failed: ${(error as Error).message}`);
      send(res, {
        status: 500,
        json: { error: { message: `The console could not do that: ${(error as Error).message}` } },
      });
    }
  };
}

interface Reply {
  status?: number;
  json?: unknown;
  body?: string | Buffer;
  type?: string;
  policy?: string;
  headers?: Record<string, string>;
}

const notFound = (message: string): Reply => ({ status: 404, json: { error: { message } } });
const sandboxOnly = (): Reply => ({
  status: 409,
  json: {
    error: { message: 'Only in sandbox mode: in real mode mail goes to Exchange Online, and there are no scenarios.' },
  },
});
const noStorage = (): Reply => ({
  status: 409,
  json: { error: { message: 'No queue storage is configured (AzureWebJobsStorage).' } },
});

function findRoute(
  api: Record<string, (req: IncomingMessage, parts: string[]) => Promise<Reply>>,
  method: string,
  path: string,
) {
  for (const [key, handler] of Object.entries(api)) {
    const [m, template] = key.split(' ') as [string, string];
    if (m !== method) continue;
    const pattern = new RegExp(`^${template.replace(/\*/g, '([^/]+)')}$`);
    const match = pattern.exec(path);
    if (!match) continue;
    try {
      return { handler, parts: match.slice(1).map(decodeURIComponent) };
    } catch {
      return 'bad-escape' as const;
    }
  }
  return undefined;
}

async function messagePart(
  outbox: Outbox | undefined,
  id: string,
  attachmentIndex: string | undefined,
): Promise<Reply> {
  if (!outbox) return sandboxOnly();
  if (attachmentIndex === undefined) {
    const html = await outbox.html(id);
    if (html === undefined) return notFound('This message has no HTML part.');
    return { body: html, type: 'text/html; charset=utf-8', policy: messagePolicy };
  }
  const attachment = await outbox.attachment(id, Number(attachmentIndex));
  if (!attachment) return notFound('No such attachment.');
  return {
    body: attachment.content,
    type: attachment.contentType,
    // always a download, never shown on this origin (an HTML or SVG attachment could script it)
    policy: "default-src 'none'; sandbox",
    headers: { 'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(attachment.filename)}` },
  };
}

/** Server-sent events: each message Exchange accepts, as it is accepted. */
function events(
  req: IncomingMessage,
  res: ServerResponse,
  outbox: Outbox | undefined,
  records: StatusStore | undefined,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.write('retry: 2000\n\n');
  const stop = outbox?.onMessage(
    (summary) =>
      void withCaller(summary, records).then((row) => res.write(`event: message\ndata: ${JSON.stringify(row)}\n\n`)),
  );
  req.on('close', () => stop?.());
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) return {};
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return {};
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const body = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.body ?? '');
  res.writeHead(reply.status ?? 200, {
    'content-type':
      reply.json !== undefined ? 'application/json; charset=utf-8' : (reply.type ?? 'application/octet-stream'),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': reply.policy === messagePolicy ? 'SAMEORIGIN' : 'DENY',
    'content-security-policy': reply.policy ?? "default-src 'none'; frame-ancestors 'none'",
    ...reply.headers,
  });
  res.end(body);
}

/**
 * The app settings a scenario runs with (a certificate or federated credential), as `npm start --
 * --scenario NAME` sets them: the sandbox's own first, then the scenario's, and none left over
 * from the scenario before.
 */
function applyScenarioSettings(sandbox: Sandbox, name: SandboxScenarioName): void {
  const scenarioNames = Object.keys(sandboxScenarios) as SandboxScenarioName[];
  const touched = new Set(scenarioNames.flatMap((n) => Object.keys(scenarioSettings(sandbox, n))));
  const wanted: Record<string, string | undefined> = { ...sandbox.settings, ...scenarioSettings(sandbox, name) };
  for (const variable of new Set([...touched, ...Object.keys(wanted)])) {
    const value = wanted[variable];
    if (value === undefined) delete process.env[variable];
    else process.env[variable] = value;
  }
}
