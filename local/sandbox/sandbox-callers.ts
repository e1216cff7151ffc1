import type { CallerPolicy } from '../../src/storage/caller-policy-store.js';
import type { CallerApp } from './caller-apps.js';
import type { Sandbox } from './sandbox.js';

/**
 * What a scenario wants in exosend's own storage for the sandbox's calling apps: their policies
 * (the table `exosend caller add` writes) and, for a spent quota, what the budget's ledger already
 * counts to one of them. The stand-ins cannot hold this: it is exosend's state, not Entra's.
 */
export interface SandboxCallers {
  /** Every policy the callers table holds; any other is removed (it names an app of another run's tenant). */
  policies: CallerPolicy[];
  /** Recipients counted to this caller in the mailbox's ledger, at least (its quota spent). */
  spent?: { appId: string; recipients: number };
}

const policyOf = (app: CallerApp, policy: Omit<CallerPolicy, 'appId' | 'displayName'>): CallerPolicy => ({
  appId: app.clientId.toLowerCase(),
  displayName: app.displayName,
  ...policy,
});

/** The sample caller's policy in a working setup: the banner's bearer curl line sends as it. */
export function samplePolicy(s: Sandbox, changes: Partial<CallerPolicy> = {}): CallerPolicy {
  return policyOf(s.callers.sample, {
    senders: [s.app.mailbox, s.app.sendAsAddress],
    recipients: ['*'],
    dailyQuota: 2000,
    share: 2,
    operator: false,
    ...changes,
  });
}

/**
 * The working setup: erp (the banner's sample) and reports have policies; unregistered-script
 * holds the app role but no policy, no-role-app has neither.
 */
export function healthyCallers(s: Sandbox): SandboxCallers {
  return {
    policies: [
      samplePolicy(s),
      policyOf(s.callers.other, {
        senders: [s.app.mailbox],
        recipients: ['*@fabrikam.example'],
        dailyQuota: 500,
        share: 1,
        operator: false,
      }),
    ],
  };
}

/** The sample caller's own day is this small in the over-quota scenario, and already spent. */
export const spentQuota = 5;
