import type { CallerAuthMode } from '../config/caller-auth.js';
import type { ExosendConfig } from '../config/load-config.js';
import type { CallerPolicy, CallerPolicyStore } from '../storage/caller-policy-store.js';
import { policyCacheInMs } from '../storage/policy-cache.js';
import { keyCallerId } from './caller.js';
import { defaultPolicy, policyStoreFor } from './resolve-caller.js';

/** Another caller that may send from a mailbox, as the day's shares weigh it (src/budget/day-share.ts). */
export interface DayPeer {
  caller: string;
  /** Its policy's `--share`. */
  weight: number;
  /** Its policy's `--daily-quota`, if any: it never claims more of the day than that. */
  dailyQuota?: number;
}

/** The other callers that may send from `mailbox`: looked up by the budget only when a send takes its slot. */
export type DayPeers = (mailbox: string) => Promise<readonly DayPeer[]>;

type PeerConfig = Pick<ExosendConfig, 'mailbox' | 'mailboxes' | 'storage'>;

/**
 * The callers whose unused shares of a mailbox's day `callerId` must leave them, or undefined when
 * none are kept:
 * - `key`: function keys alone, one default policy with the mailbox's whole day (as before callers had identities);
 * - `entra`: every registered caller (exosend caller add) that may send from the mailbox. A producer
 *   that puts requests on the queue itself (the default policy; it can write the app's storage, the
 *   ledger included) keeps the mailbox's whole day and keeps nothing for itself;
 * - `both`: the same, and the function-key holders together are one more caller, of the default
 *   policy's weight, that may send from every mailbox: their share is kept from Entra callers, and
 *   the Entra callers' shares from them.
 */
export function dayPeersOf(callerId: string, mode: CallerAuthMode, config: () => PeerConfig): DayPeers | undefined {
  if (mode === 'key' || (mode === 'entra' && callerId === keyCallerId)) return undefined;
  return async (mailbox) => {
    const current = config();
    const registered = await registeredCallers(await policyStoreFor(current));
    const everyone = mode === 'both' ? [...registered, defaultPolicy] : registered;
    return everyone
      .filter((p) => p.appId !== callerId && sendsFrom(p, mailbox, current))
      .map((p) => ({
        caller: p.appId,
        weight: p.share,
        ...(p.dailyQuota !== undefined && { dailyQuota: p.dailyQuota }),
      }));
  };
}

/** A From that is one of exosend's mailboxes sends from it; any other allowed sender from the default mailbox (MailSender.mailboxFor). */
function sendsFrom(policy: CallerPolicy, mailbox: string, config: PeerConfig): boolean {
  return policy.senders.some(
    (s) => s === '*' || (config.mailboxes.includes(s) ? s : config.mailbox) === mailbox.toLowerCase(),
  );
}

const listed = new WeakMap<object, { policies: Promise<readonly CallerPolicy[]>; until: number }>();

/**
 * Every registered policy, read at most every 30 s per instance (as each policy is): a caller added
 * or removed counts in the shares within that. A list that cannot be read keeps the last one read.
 */
function registeredCallers(store: Pick<CallerPolicyStore, 'list'>): Promise<readonly CallerPolicy[]> {
  const cached = listed.get(store);
  if (cached && cached.until > Date.now()) return cached.policies;
  const policies = store.list().catch((error: unknown) => {
    if (cached) return cached.policies;
    listed.delete(store);
    throw error;
  });
  listed.set(store, { policies, until: Date.now() + policyCacheInMs });
  return policies;
}
