import type { ExosendConfig } from '../config/load-config.js';
import { ConfigError } from '../config/config-error.js';
import type { CallerPolicy, CallerPolicyStore } from '../storage/caller-policy-store.js';
import { callerIdOf, keyCallerId, type CallerIdentity } from './caller.js';
import { CallerRefused } from './caller-refused.js';

/** A caller exosend serves: who it is, what it is called in logs and the console, and its policy. */
export interface Caller {
  identity: CallerIdentity;
  /** Its app id, or `function-key`: what records, logs, dead letters and telemetry name it by. */
  id: string;
  name: string;
  policy: CallerPolicy;
}

/**
 * The one policy every function-key holder shares: today's behaviour, unchanged. Any sender
 * EXOSEND_ALLOWED_SENDERS allows (`*`), any recipient, the mailbox's whole budget, and the admin's
 * detail in its answers. It needs no setting, so a route still answers when the settings are bad.
 */
export const defaultPolicy: CallerPolicy = {
  appId: keyCallerId,
  displayName: 'function key',
  senders: ['*'],
  recipients: ['*'],
  dailyQuota: undefined,
  share: 1,
  operator: true,
};

let store: { key: string; instance: Promise<CallerPolicyStore> } | undefined;

/**
 * The worker's policy store, for the storage in force. Its module (and the tables SDK) loads on the
 * first caller with a token: a worker whose callers use keys never loads it, and no cold start waits for it.
 */
export function policyStoreFor(config: Pick<ExosendConfig, 'storage'>): Promise<CallerPolicyStore> {
  if (!config.storage)
    throw new ConfigError([
      {
        variable: 'AzureWebJobsStorage',
        message: 'is required for caller policies (EXOSEND_CALLER_AUTH=entra or both)',
      },
    ]);
  const key = JSON.stringify(config.storage);
  const connection = config.storage;
  if (store?.key !== key) {
    const instance = import('../storage/caller-policy-store.js').then(({ callerPolicyStore }) =>
      callerPolicyStore(connection),
    );
    // a store that could not be made is made again at the next call, as before it loaded lazily
    instance.catch(() => store?.instance === instance && (store = undefined));
    store = { key, instance };
  }
  return store.instance;
}

/** Forgets the store and the policies it cached: the next caller reads them anew (resetRuntime). */
export function forgetPolicyStore(): void {
  store = undefined;
}

/** An authenticated caller with its policy; an app with none is refused with the command that gives it one. */
export async function resolveCaller(
  identity: CallerIdentity,
  config: () => Pick<ExosendConfig, 'storage'>,
): Promise<Caller> {
  if (identity.kind === 'key')
    return { identity, id: keyCallerId, name: defaultPolicy.displayName, policy: defaultPolicy };
  const policy = await (await policyStoreFor(config())).get(identity.appId);
  if (!policy) {
    throw new CallerRefused(
      'CALLER_NOT_REGISTERED',
      `The calling app ${identity.appId} has no policy in exosend: an admin gives it one with ` +
        `\`npx exosend caller add ${identity.appId} --name <name> --senders <from,...> --recipients <pattern,...>\`.`,
      identity.appId,
    );
  }
  return { identity, id: callerIdOf(identity), name: policy.displayName, policy };
}
