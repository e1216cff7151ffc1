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
}

/** What a developer needs after `npm start`: the mode, every function, the key and a first request. */
export function printBanner({
  mode,
  baseUrl,
  functionKey,
  registrations,
  outboxDir,
  storage,
  doctor,
}: BannerOptions): void {
  const width = Math.max(
    ...[...registrations.http, ...registrations.queues, ...registrations.timers].map((f) => f.name.length),
  );
  const lines = [
    '',
    `exosend is running in ${mode} mode.`,
    `Listening on ${baseUrl}`,
    `Console: ${baseUrl}/  (${outboxDir ? 'outbox, ' : ''}dead letters, health${outboxDir ? ' and scenarios' : ''}, a send form; open it in a browser)`,
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
    'Send a first message:',
    `  curl -s -X POST ${baseUrl}/api/send -H "x-functions-key: ${functionKey}" -H "content-type: application/json" \\`,
    `    -d '{"to":["someone@fabrikam.example"],"subject":"Hello from exosend","text":"It works."}'`,
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
