import { readCallerUsage } from '../../src/budget/read-caller-usage.js';
import { createBudget } from '../../src/budget/create-budget.js';
import { LedgerBudget } from '../../src/budget/ledger-budget.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { StorageConnection } from '../../src/config/storage-connection.js';
import { callerPolicyStore } from '../../src/storage/caller-policy-store.js';
import type { SandboxCallers } from './sandbox-callers.js';

/**
 * Makes exosend's storage hold what a scenario wants for its callers: the callers table exactly
 * its policies (a policy of any other app was left by an earlier run, whose tenant is gone), and a
 * spent quota counted in the mailbox's ledger through the budget itself, as sends of that caller
 * would have been. The app reads policies anew once its runtime is reset (resetRuntime).
 */
export async function applySandboxCallers(
  wanted: SandboxCallers,
  storage: StorageConnection,
  env: Record<string, string | undefined> = process.env,
): Promise<void> {
  const store = callerPolicyStore(storage);
  const keep = new Set(wanted.policies.map((p) => p.appId));
  for (const policy of await store.list()) if (!keep.has(policy.appId)) await store.remove(policy.appId);
  for (const policy of wanted.policies) await store.put(policy);
  if (!wanted.spent) return;
  const { appId, recipients } = wanted.spent;
  const policy = wanted.policies.find((p) => p.appId === appId);
  const config = { ...loadConfig(env), storage };
  const caller = { caller: appId, dailyQuota: policy?.dailyQuota, weight: policy?.share ?? 1 };
  const [usage] = await readCallerUsage(config, config.mailbox, [caller]);
  const missing = recipients - (usage?.dayUsed ?? 0);
  if (missing <= 0) return;
  const budget = createBudget(config, config.mailbox);
  try {
    const permit = await budget.takeSend(missing, {
      waitUpToMs: 0,
      caller: { id: appId, name: policy?.displayName ?? appId },
    });
    permit.release(true);
    // queued after the release on the same ledger: resolved once storage holds it
    if (budget instanceof LedgerBudget) await budget.callerUsage([caller]);
  } finally {
    budget.close();
  }
}
