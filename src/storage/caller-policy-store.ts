// RestError is @azure/core-rest-pipeline's, which @azure/data-tables re-exports (dist/esm/index.js):
// imported from there, a module that reads a status code does not load the tables SDK with the entry
import { RestError } from '@azure/core-rest-pipeline';
import { TableClient } from '@azure/data-tables';
import { storageCredential } from './storage-credential.js';
import type { StorageConnection } from '../config/storage-connection.js';
import { policyCacheInMs } from './policy-cache.js';

export const callersTable = 'exosendcallers';

/**
 * What one calling app may do, keyed by its application (client) ID. Kept in Table storage, so
 * every instance reads the same policies and an admin changes them without a redeploy.
 */
export interface CallerPolicy {
  appId: string;
  displayName: string;
  /** From addresses it may use, lower-cased; `*` (the function-key policy only): any that EXOSEND_ALLOWED_SENDERS allows. */
  senders: readonly string[];
  /** Recipients it may mail: `*`, `*@contoso.com`, or exact addresses; lower-cased. */
  recipients: readonly string[];
  /** Recipients a rolling day, its own; undefined: bounded by the mailbox's day, less the others' unused shares. */
  dailyQuota: number | undefined;
  /** Its weight in each mailbox's minute, against the other callers with work waiting, and in its day (src/budget/day-share.ts). */
  share: number;
  /** Sees the admin's detail (ids, vault URLs, commands) in its answers. */
  operator: boolean;
}

interface Entity {
  partitionKey: string;
  rowKey: string;
  displayName: string;
  senders: string;
  recipients: string;
  dailyQuota?: number;
  share: number;
  operator: boolean;
}

const partitionKey = 'caller';

/** Reads and writes caller policies; reads are cached briefly per instance. */
export class CallerPolicyStore {
  private readonly cache = new Map<string, { policy: CallerPolicy | undefined; until: number }>();
  private created: Promise<unknown> | undefined;

  constructor(readonly table: TableClient) {}

  async get(appId: string): Promise<CallerPolicy | undefined> {
    const key = appId.toLowerCase();
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now()) return cached.policy;
    await this.ready();
    const entity = await this.table.getEntity<Entity>(partitionKey, key).catch((error: unknown) => {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    });
    const policy = entity && toPolicy(entity);
    this.cache.set(key, { policy, until: Date.now() + policyCacheInMs });
    return policy;
  }

  async put(policy: CallerPolicy): Promise<void> {
    await this.ready();
    const entity: Entity = {
      partitionKey,
      rowKey: policy.appId.toLowerCase(),
      displayName: policy.displayName,
      senders: JSON.stringify(policy.senders),
      recipients: JSON.stringify(policy.recipients),
      ...(policy.dailyQuota !== undefined && { dailyQuota: policy.dailyQuota }),
      share: policy.share,
      operator: policy.operator,
    };
    await this.table.upsertEntity(entity, 'Replace');
    this.cache.delete(entity.rowKey);
  }

  async remove(appId: string): Promise<boolean> {
    await this.ready();
    this.cache.delete(appId.toLowerCase());
    try {
      await this.table.deleteEntity(partitionKey, appId.toLowerCase());
      return true;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return false;
      throw error;
    }
  }

  async list(): Promise<CallerPolicy[]> {
    await this.ready();
    const policies: CallerPolicy[] = [];
    for await (const entity of this.table.listEntities<Entity>({
      queryOptions: { filter: `PartitionKey eq '${partitionKey}'` },
    }))
      policies.push(toPolicy(entity));
    return policies;
  }

  private ready(): Promise<unknown> {
    this.created ??= this.table.createTable().catch((error: unknown) => {
      this.created = undefined;
      throw error;
    });
    return this.created;
  }
}

function toPolicy(entity: Entity): CallerPolicy {
  return {
    appId: entity.rowKey,
    displayName: entity.displayName,
    senders: JSON.parse(entity.senders) as string[],
    recipients: JSON.parse(entity.recipients) as string[],
    dailyQuota: typeof entity.dailyQuota === 'number' ? entity.dailyQuota : undefined,
    share: entity.share,
    operator: entity.operator === true,
  };
}

/** The callers table for a storage connection, as the host reads AzureWebJobsStorage. */
export function callerPolicyStore(connection: StorageConnection): CallerPolicyStore {
  if (connection.kind === 'connectionString') {
    const { connectionString } = connection;
    const allowInsecureConnection = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(connectionString);
    return new CallerPolicyStore(
      TableClient.fromConnectionString(connectionString, callersTable, { allowInsecureConnection }),
    );
  }
  return new CallerPolicyStore(
    new TableClient(connection.serviceUris.table, callersTable, storageCredential(connection)),
  );
}
