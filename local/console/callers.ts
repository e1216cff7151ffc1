import { defaultPolicy } from '../../src/auth/resolve-caller.js';
import { readCallerUsage } from '../../src/budget/read-caller-usage.js';
import type { CallerUsage } from '../../src/budget/caller-usage.js';
import { readCallerAuth, type CallerAuthMode } from '../../src/config/caller-auth.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { StorageConnection } from '../../src/config/storage-connection.js';
import { callerPolicyStore, type CallerPolicy } from '../../src/storage/caller-policy-store.js';

/** One caller as the console's Callers view shows it: its policy, and its use of each mailbox. */
export interface CallerView extends CallerPolicy {
  /** The function-key holders' shared default policy, not a row of the callers table. */
  keyHolders: boolean;
  mailboxes: (Omit<CallerUsage, 'caller'> & { mailbox: string; minuteLimit: number; windowSeconds: number })[];
}

export interface CallersAnswer {
  callerAuth: CallerAuthMode;
  callers: CallerView[];
}

/**
 * Every registered caller (the table `exosend caller add` writes, read fresh: no cache) with what
 * the budget's ledger counts for it in each mailbox: its own day against its daily quota, and its
 * sends in the window against the share it would get now (src/budget/caller-usage.ts).
 */
export async function listCallers(
  storage: StorageConnection,
  env: Record<string, string | undefined> = process.env,
): Promise<CallersAnswer> {
  const callerAuth = readCallerAuth(env).mode;
  const config = { ...loadConfig(env), storage };
  const registered = (await callerPolicyStore(storage).list()).sort((a, b) =>
    a.displayName.localeCompare(b.displayName),
  );
  const policies = callerAuth === 'entra' ? registered : [defaultPolicy, ...registered];
  const asked = policies.map((p) => ({ caller: p.appId, dailyQuota: p.dailyQuota, weight: p.share }));
  const byMailbox = await Promise.all(
    config.mailboxes.map(async (mailbox) => ({ mailbox, usage: await readCallerUsage(config, mailbox, asked) })),
  );
  return {
    callerAuth,
    callers: policies.map((policy) => ({
      ...policy,
      keyHolders: policy === defaultPolicy,
      mailboxes: byMailbox.map(({ mailbox, usage }) => {
        const { caller: _, ...use } = usage.find((u) => u.caller === policy.appId)!;
        return {
          mailbox,
          minuteLimit: config.ratePerMinute,
          windowSeconds: config.rateWindowInMs / 1000,
          ...use,
        };
      }),
    })),
  };
}
