import { parseArgs } from 'node:util';
import { isGuid } from '../src/config/load-config.js';
import { storageRequired } from '../src/config/storage-connection.js';
import { readStorageConnection } from '../src/config/storage-connection.js';
import { callerPolicyStore, type CallerPolicy } from '../src/storage/caller-policy-store.js';
import { policyCacheInMs } from '../src/storage/policy-cache.js';
import { readSettingsFile, SettingsFileError, valuesNotInEnvironment } from './settings-file.js';

const usage = `usage: exosend caller add <app-id> --name <name> --senders <from,...> [--recipients <pattern,...>]
                          [--daily-quota <recipients>] [--share <weight>] [--operator] [--settings FILE]
       exosend caller list [--settings FILE]
       exosend caller remove <app-id> [--settings FILE]

A caller is an app that presents an Entra token for exosend's API (EXOSEND_CALLER_AUTH=entra or
both), named by its application (client) ID: for a managed identity, its client ID. Its policy
says which From addresses it may use, whom it may mail (*, *@contoso.com, or exact addresses;
default *), how many recipients a rolling day it may send (default: the mailbox's budget only),
its weight in each mailbox's minute against the other callers (default 1), and whether it sees
the admin's detail in its error answers (--operator). Policies live in the storage account of
AzureWebJobsStorage (table exosendcallers); every instance picks up a change within ${policyCacheInMs / 1000} s.`;

const emails = (list: string | undefined) =>
  (list ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

/** `exosend caller add|list|remove`: the admin's door to the caller policies. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        senders: { type: 'string' },
        recipients: { type: 'string' },
        'daily-quota': { type: 'string' },
        share: { type: 'string' },
        operator: { type: 'boolean' },
        settings: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, appId] = positionals;
  if (values.help) return (console.error(usage), 0);
  try {
    const fileValues = values.settings ? readSettingsFile(values.settings) : {};
    const connection = readStorageConnection({ ...process.env, ...valuesNotInEnvironment(fileValues, process.env) });
    if (!connection) throw new UsageError(`AzureWebJobsStorage ${storageRequired('caller policies')}`);
    const store = callerPolicyStore(connection);
    if (action === 'list' && positionals.length === 1) {
      for (const p of await store.list()) {
        const quota = p.dailyQuota === undefined ? 'mailbox' : String(p.dailyQuota);
        console.log(
          `${p.appId}  ${p.displayName}  from: ${p.senders.join(',')}  to: ${p.recipients.join(',')}  daily: ${quota}  share: ${p.share}${p.operator ? '  operator' : ''}`,
        );
      }
      return 0;
    }
    if (!appId || !isGuid(appId) || positionals.length !== 2)
      throw new UsageError('name the caller by its application (client) ID, a GUID');
    if (action === 'remove') {
      const removed = await store.remove(appId);
      console.log(removed ? `removed ${appId.toLowerCase()}` : `no policy for ${appId.toLowerCase()}`);
      return 0;
    }
    if (action !== 'add') throw new UsageError(`unknown action ${action ?? ''}`);
    const policy = policyFrom(appId, values);
    await store.put(policy);
    console.log(
      `added ${policy.appId} (${policy.displayName}); every instance applies it within ${policyCacheInMs / 1000} s`,
    );
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof SettingsFileError) {
      console.error(`exosend caller: ${error.message}\n\n${usage}`);
      return 2;
    }
    console.error(
      `exosend caller: the storage account did not answer as expected (${(error as Error).name}); check AzureWebJobsStorage and your role on it.`,
    );
    return 1;
  }
}

function policyFrom(appId: string, values: Record<string, string | boolean | undefined>): CallerPolicy {
  const name = String(values['name'] ?? '').trim();
  if (!name) throw new UsageError('--name is required: it names the caller in logs and the console');
  const senders = emails(values['senders'] as string | undefined);
  if (senders.length === 0 || !senders.every((s) => /^[^@\s]+@[^@\s]+$/.test(s)))
    throw new UsageError('--senders must list the From addresses the caller may use');
  const recipients = emails((values['recipients'] as string | undefined) ?? '*');
  if (!recipients.every((r) => r === '*' || /^(\*|[^@\s*]+)@[^@\s*]+$/.test(r)))
    throw new UsageError('--recipients takes *, *@domain or addresses');
  const number = (flag: string, fallback: number | undefined) => {
    const raw = values[flag];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a number greater than 0`);
    return n;
  };
  const dailyQuota = number('daily-quota', undefined);
  return {
    appId: appId.toLowerCase(),
    displayName: name,
    senders,
    recipients,
    dailyQuota: dailyQuota && Math.floor(dailyQuota),
    share: number('share', 1)!,
    operator: values['operator'] === true,
  };
}

class UsageError extends Error {}
