import type { ExosendConfig } from '../config/load-config.js';
import type { StorageConnection } from '../config/storage-connection.js';
import type { BudgetLimits, MailboxBudget } from './budget.js';
import { defaultLeaseTtlInMs } from './ledger-budget.js';
import { LocalBudget } from './local-budget.js';
import { budgetTable, TableBudget } from './table-budget.js';

export type BudgetConfig = Pick<
  ExosendConfig,
  | 'ratePerMinute'
  | 'maxConnections'
  | 'recipientsPerDay'
  | 'rateWindowInMs'
  | 'dayWindowInMs'
  | 'leaseTtlInMs'
  | 'storage'
>;

export function budgetLimits(config: BudgetConfig): BudgetLimits {
  return {
    ratePerWindow: config.ratePerMinute,
    windowInMs: config.rateWindowInMs,
    maxConnections: config.maxConnections,
    recipientsPerDay: config.recipientsPerDay,
    dayInMs: config.dayWindowInMs,
  };
}

/**
 * The mailbox's budget: shared through Table storage when the app has storage (every instance of
 * every function counts against the same ledger), else this process's own.
 */
export function createBudget(config: BudgetConfig, mailbox: string): MailboxBudget {
  const options = {
    mailbox,
    limits: budgetLimits(config),
    timings: {
      // a crashed instance's sessions come back before a caller's wait for one runs out
      leaseTtlInMs: Math.min(config.leaseTtlInMs, defaultLeaseTtlInMs),
      // a send lasts at most a few minutes (nodemailer's timeouts); a crashed holder's slot comes back then
      holdMaxInMs: 5 * config.leaseTtlInMs,
    },
  };
  const connection = config.storage;
  if (!connection) return new LocalBudget(options);
  return new TableBudget(options, () => tableClient(connection));
}

let clients: Map<string, Promise<import('@azure/data-tables').TableClient>> | undefined;

/** The storage SDK loads on the first send, so that a cold start does not pay for it before then. */
function tableClient(connection: StorageConnection) {
  clients ??= new Map();
  const key = JSON.stringify(connection);
  let client = clients.get(key);
  if (!client) {
    client = Promise.all([import('@azure/data-tables'), import('../storage/storage-credential.js')]).then(
      ([{ TableClient }, { storageCredential }]) => {
        if (connection.kind === 'identity')
          return new TableClient(connection.serviceUris.table, budgetTable, storageCredential(connection));
        const { connectionString } = connection;
        // the emulator speaks plain HTTP; the tables client refuses that unless told
        const allowInsecureConnection = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(
          connectionString,
        );
        return TableClient.fromConnectionString(connectionString, budgetTable, { allowInsecureConnection });
      },
    );
    clients.set(key, client);
  }
  return client;
}
