import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { parseMailRequest } from '../mail/parse-request.js';
import { RequestRejected } from '../pipeline/errors.js';
import { enqueueRequest } from '../queue/enqueue.js';
import { StatusStore } from '../queue/status-store.js';
import { connectStorage } from '../queue/storage.js';
import { readSettingsFile, SettingsFileError, valuesNotInEnvironment } from './settings-file.js';

const usage = `usage: exosend enqueue [FILE | -] [--settings local.settings.json]

Validates a mail request (JSON, as POST /api/send takes it) and puts it on the intake queue
(EXOSEND_QUEUE, in the storage account of AzureWebJobsStorage), encoded as the Functions host
expects. Reads FILE, or standard input when FILE is - or absent. Prints {"id","status"}; follow
the message with GET /api/messages/{id}.`;

/** `exosend enqueue`: a producer's door to the queue, with the same checks as the HTTP routes. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { settings: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (parsed.values.help || parsed.positionals.length > 1) {
    console.error(usage);
    return parsed.values.help ? 0 : 2;
  }
  try {
    const fileValues = parsed.values.settings ? readSettingsFile(parsed.values.settings) : {};
    const config = loadConfig({ ...process.env, ...valuesNotInEnvironment(fileValues, process.env) });
    if (!config.storageConnection) throw new ConfigError([{ variable: 'AzureWebJobsStorage', message: 'is required to reach the queue' }]);
    const source = parsed.positionals[0];
    const text = readFileSync(source === undefined || source === '-' ? 0 : source, 'utf8');
    const request = parseMailRequest(text, config);
    const id = request.idempotencyKey ?? randomUUID();
    const storage = connectStorage(config.storageConnection, config.queue);
    await enqueueRequest(storage, new StatusStore(storage.records), request, id);
    console.log(JSON.stringify({ id, status: 'queued' }));
    return 0;
  } catch (error) {
    if (error instanceof RequestRejected) {
      console.error(JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } }, null, 2));
      return 1;
    }
    if (error instanceof ConfigError || error instanceof SettingsFileError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
}
