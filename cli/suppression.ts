import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError } from '../src/config/config-error.js';
import { connectStorage } from '../src/storage/storage.js';
import { readStorageConnection, storageRequired } from '../src/config/storage-connection.js';
import { SuppressionList } from '../src/queue/suppression-list.js';
import { readSettingsFile, SettingsFileError, valuesNotInEnvironment } from './settings-file.js';

const usage = `usage: exosend suppression list
       exosend suppression add ADDRESS [--reason TEXT]
       exosend suppression remove ADDRESS
       [--settings local.settings.json]

The recipients exosend no longer sends to, shared by every instance (Table storage of
AzureWebJobsStorage): an address lands here when its bounce says it does not exist (5.1.x); a full
mailbox or a delay never puts one here. Remove one once the address is fixed; add your own.`;

/** `exosend suppression`: the admin's view of the suppression list. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { settings: { type: 'string' }, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const [verb, address, ...extra] = parsed.positionals;
  const needsAddress = verb === 'add' || verb === 'remove';
  if (
    parsed.values.help ||
    !verb ||
    !['list', 'add', 'remove'].includes(verb) ||
    needsAddress !== (address !== undefined) ||
    extra.length > 0
  ) {
    console.error(usage);
    return parsed.values.help ? 0 : 2;
  }
  if (needsAddress && !z.email().safeParse(address).success) {
    console.error(`exosend suppression: "${address}" is not an email address.`);
    return 2;
  }
  try {
    const fileValues = parsed.values.settings ? readSettingsFile(parsed.values.settings) : {};
    const connection = readStorageConnection({ ...process.env, ...valuesNotInEnvironment(fileValues, process.env) });
    if (!connection)
      throw new ConfigError([{ variable: 'AzureWebJobsStorage', message: storageRequired('the suppression list') }]);
    const list = new SuppressionList(connectStorage(connection, 'outbound-mail').suppressions);
    if (verb === 'list') console.log(JSON.stringify(await list.list(), null, 2));
    if (verb === 'add') {
      await list.add({
        recipient: address!,
        reason: parsed.values.reason ? `ADDED_BY_ADMIN: ${parsed.values.reason.slice(0, 200)}` : 'ADDED_BY_ADMIN',
        at: new Date().toISOString(),
      });
      console.log(JSON.stringify({ recipient: address!.toLowerCase(), suppressed: true }));
    }
    if (verb === 'remove') {
      const removed = await list.remove(address!);
      console.log(JSON.stringify({ recipient: address!.toLowerCase(), suppressed: false, wasSuppressed: removed }));
    }
    return 0;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SettingsFileError) {
      console.error(`exosend suppression: ${error.message}`);
      return 2;
    }
    const { code, statusCode } = error as { code?: string; statusCode?: number };
    console.error(
      `exosend suppression: the storage account named by AzureWebJobsStorage failed (${statusCode ?? code ?? (error as Error).name}).`,
    );
    return 1;
  }
}
