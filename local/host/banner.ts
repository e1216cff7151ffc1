import type { CallerAuthMode } from '../../src/config/caller-auth.js';
import type { Registrations } from './registrations.js';
import { resolveSettings } from './registrations.js';

export interface BannerOptions {
  mode: string;
  baseUrl: string;
  functionKey: string;
  registrations: Registrations;
  outboxDir: string | undefined;
  /** Azurite's connection string, when this command started it: public development credentials. */
  storage: string | undefined;
  /** The command that runs `exosend doctor` against this sandbox. */
  doctor?: string | undefined;
  /** EXOSEND_CALLER_AUTH in force: which callers the app takes (function key, Entra token, or both). */
  callerAuth?: CallerAuthMode | undefined;
  /** A token of the sandbox's sample caller, when the app takes tokens: the second curl line sends with it. */
  bearer?: { token: string; callerName: string; appId: string; expiresOn: Date } | undefined;
}

const firstMessage = `'{"to":["someone@fabrikam.example"],"subject":"Hello from exosend","text":"It works."}'`;

/** What a developer needs after `npm start`: the mode, every function, the key and a first request. */
export function printBanner({
  mode,
  baseUrl,
  functionKey,
  registrations,
  outboxDir,
  storage,
  doctor,
  callerAuth = 'key',
  bearer,
}: BannerOptions): void {
  const width = Math.max(
    ...[...registrations.http, ...registrations.queues, ...registrations.timers].map((f) => f.name.length),
  );
  const lines = [
    '',
    `exosend is running in ${mode} mode.`,
    `Listening on ${baseUrl}`,
    `Console: ${baseUrl}/  (${outboxDir ? 'outbox, ' : ''}dead letters, callers, health${outboxDir ? ' and scenarios' : ''}, a send form; open it in a browser)`,
    '',
    'Functions:',
    ...registrations.http.map(
      (f) =>
        `  ${f.name.padEnd(width)}  ${(f.methods ?? ['GET', 'POST']).join(',').padEnd(5)} ${baseUrl}/api/${f.route ?? f.name}`,
    ),
    ...registrations.queues.map(
      (f) =>
        `  ${f.name.padEnd(width)}  queue ${resolveSettings(f.queueName)} (dead letters: ${resolveSettings(f.queueName)}-poison)`,
    ),
    ...registrations.timers.map((f) => `  ${f.name.padEnd(width)}  timer ${resolveSettings(f.schedule)}`),
    '',
    `Function key: ${functionKey}  (header x-functions-key, or ?code=)`,
    ...(outboxDir ? [`Outbox: ${outboxDir} (every message the sandbox's Exchange accepts, as .eml)`] : []),
    ...(storage ? [`Storage (Azurite): ${storage}`] : []),
    '',
    `Callers: EXOSEND_CALLER_AUTH=${callerAuth} (${callerAuthText[callerAuth]})`,
    '',
    'Send a first message:',
    ...(callerAuth === 'entra'
      ? []
      : [
          `  curl -s -X POST ${baseUrl}/api/send -H "x-functions-key: ${functionKey}" -H "content-type: application/json" \\`,
          `    -d ${firstMessage}`,
        ]),
    ...(bearer
      ? [
          `As the sample caller ${bearer.callerName} (app ${bearer.appId}), with its token from the sandbox's Entra (valid until ${bearer.expiresOn.toISOString()}; each npm start gets a new one):`,
          // one line: the only line of this output that shows the token (test/secrets-never-leak.check.ts)
          `  curl -s -X POST ${baseUrl}/api/send -H "Authorization: Bearer ${bearer.token}" -H "content-type: application/json" -d ${firstMessage}`,
        ]
      : []),
    ...(doctor
      ? [
          '',
          'Check the setup as a mailbox admin would, stage by stage (add --to ADDRESS for a test send):',
          `  ${doctor}`,
        ]
      : []),
    '',
    'Ctrl-C stops everything this command started.',
    '',
  ];
  console.log(lines.join('\n'));
}

const callerAuthText: Record<CallerAuthMode, string> = {
  key: 'function keys only, under one default policy',
  entra: 'Entra tokens only, each caller under its own policy; the function key is refused',
  both: 'the function key, or an Entra token under its caller policy; the console shows the callers',
};
