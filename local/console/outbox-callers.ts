import type { StatusStore } from '../../src/queue/status-store.js';
import type { OutboxSummary } from './outbox.js';

/** Who sent a message: the caller its record names (app id, or `function-key`) and its display name. */
export interface OutboxCaller {
  id: string;
  name: string;
}

/**
 * A message of the outbox with its caller, read from the record exosend keeps under the id it sent
 * with (the ENVID): the record names the caller, never its token. A message without a record (sent
 * before records named callers, or with an id too long for an ENVID) has none.
 */
export async function withCaller<T extends OutboxSummary>(
  summary: T,
  records: StatusStore | undefined,
): Promise<T & { caller?: OutboxCaller }> {
  if (!records || !summary.exosendId) return summary;
  const record = await records.get(summary.exosendId).catch(() => undefined);
  if (!record?.caller) return summary;
  return { ...summary, caller: { id: record.caller, name: record.callerName ?? record.caller } };
}
