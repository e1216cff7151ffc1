import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load-config.js';
import { ConfigError } from '../src/config/config-error.js';
import { redactSecrets } from '../src/diagnosis/redact-secrets.js';
import { decodeUtf8Body, parseMailRequest } from '../src/mail/parse-request.js';
import { IdempotencyKeyReused, RequestRejected } from '../src/mail/request-rejected.js';
import { enqueueOnce } from '../src/queue/enqueue.js';
import { StatusStore } from '../src/queue/status-store.js';
import { connectStorage } from '../src/storage/storage.js';
import { storageRequired, type StorageConnection } from '../src/config/storage-connection.js';
import { readSettingsFile, SettingsFileError, valuesNotInEnvironment } from './settings-file.js';

const usage = `usage: exosend enqueue [FILE | -] [--settings local.settings.json]

Validates a mail request (JSON, as POST /api/send takes it) and puts it on the intake queue
(EXOSEND_QUEUE, in the storage account of AzureWebJobsStorage: a connection string, or
AzureWebJobsStorage__queueServiceUri / __accountName with your signed-in or managed identity),
encoded as the Functions host expects. Reads FILE, or standard input when FILE is - or absent. Prints {"id","status"}; follow
the message with GET /api/messages/{id}.`;

/** `exosend enqueue`: a producer's door to the queue, with the same checks as the HTTP routes. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { settings: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
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
    if (!config.storage)
      throw new ConfigError([{ variable: 'AzureWebJobsStorage', message: storageRequired('the queue') }]);
    const request = parseMailRequest(decodeUtf8Body(readRequestFile(parsed.positionals[0])), config);
    const storage = openStorage(config.storage, config.queue);
    const { id, status } = await enqueueOnce(
      storage,
      new StatusStore(storage.records),
      request,
      request.idempotencyKey ?? randomUUID(),
    );
    console.log(JSON.stringify({ id, status }));
    return 0;
  } catch (error) {
    if (error instanceof RequestRejected) {
      const existing = error instanceof IdempotencyKeyReused ? { existing: error.existing } : {};
      console.error(
        JSON.stringify(
          { error: { code: error.code, message: error.message, details: error.details, ...existing } },
          null,
          2,
        ),
      );
      return 1;
    }
    if (error instanceof ConfigError || error instanceof SettingsFileError || error instanceof UsageError) {
      console.error(`exosend enqueue: ${error.message}`);
      return 2;
    }
    console.error(`exosend enqueue: ${storageFailure(error)}`);
    return 1;
  }
}

/** A mistake on the command line or in the settings: exit code 2, one line, no stack. */
class UsageError extends Error {}

function readRequestFile(source: string | undefined): Buffer {
  const name = source === undefined || source === '-' ? 'standard input' : source;
  try {
    return readFileSync(source === undefined || source === '-' ? 0 : source);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'there is no such file'
        : code === 'EISDIR'
          ? 'it is a directory, not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : (code ?? 'it cannot be read');
    throw new UsageError(
      `cannot read the request from ${name}: ${why}. Give the path of a JSON mail request, or - for standard input.`,
    );
  }
}

/** The storage clients; a connection string they cannot read is named, never echoed (it holds the account key). */
function openStorage(connection: StorageConnection, queue: string) {
  try {
    return connectStorage(connection, queue);
  } catch {
    throw new UsageError(
      'AzureWebJobsStorage is not a storage connection string the Azure SDK can read (AccountName=...;AccountKey=...;QueueEndpoint=... or a SAS). Check the setting.',
    );
  }
}

/** One line for a storage account that did not answer or refused, with what to check. */
function storageFailure(error: unknown): string {
  const { code, statusCode } = error as { code?: string; statusCode?: number };
  if (
    statusCode === undefined &&
    code &&
    /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|REQUEST_SEND_ERROR)$/.test(code)
  ) {
    return `the storage account named by AzureWebJobsStorage did not answer (${code}). Is it running (npm start starts Azurite) and is the endpoint right?`;
  }
  if (statusCode === 403)
    return "the storage account refused access (403): check the account key or SAS in AzureWebJobsStorage, or the identity's data roles.";
  if (statusCode !== undefined)
    return `the storage account answered ${statusCode}${code ? ` ${code}` : ''}; nothing was queued.`;
  const what = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
  return `failed: ${redactSecrets(what).slice(0, 300)}`;
}
