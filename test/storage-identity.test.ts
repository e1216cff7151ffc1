import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { QueueServiceClient } from '@azure/storage-queue';
import { ConfigError } from '../src/config/config-error.js';
import { enqueueMail } from '../src/functions/enqueue.js';
import { messageStatus } from '../src/functions/message-status.js';
import { outboundMail } from '../src/functions/outbound-queue.js';
import { readStorageConnection } from '../src/config/storage-connection.js';
import { startAzurite, type Azurite } from '../local/sandbox/azurite.js';
import { issueServerCertificate, loadOrCreateCertificateAuthority } from '../local/sandbox/pki.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { runObserved } from './observed.js';

describe('AzureWebJobsStorage, read as the Functions host reads it', () => {
  const identity = {
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsStorage__clientId: '6e7c0f43-55a3-4c1a-9f0e-3f5f7c1e2a10',
    AzureWebJobsStorage__blobServiceUri: 'https://acct.blob.core.windows.net/',
    AzureWebJobsStorage__queueServiceUri: 'https://acct.queue.core.windows.net',
    AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.windows.net',
  };

  it('when a connection string and identity settings are both set, then the connection string wins (the exact name wins over the prefix)', () => {
    assert.deepEqual(readStorageConnection({ ...identity, AzureWebJobsStorage: 'UseDevelopmentStorage=true' }), {
      kind: 'connectionString',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });

  it('when service URIs are set, then they are used with the named user-assigned identity, trailing slash dropped', () => {
    assert.deepEqual(readStorageConnection(identity), {
      kind: 'identity',
      serviceUris: {
        blob: 'https://acct.blob.core.windows.net',
        queue: 'https://acct.queue.core.windows.net',
        table: 'https://acct.table.core.windows.net',
      },
      credential: 'managedidentity',
      clientId: identity.AzureWebJobsStorage__clientId,
      resourceId: undefined,
    });
  });

  it('when only the account name is set (any case), then the public endpoints of each service are used, and a service URI overrides its own', () => {
    const connection = readStorageConnection({
      azurewebjobsstorage__ACCOUNTNAME: 'exostore',
      AzureWebJobsStorage__tableServiceUri: 'https://t.example/',
    });
    assert.equal(connection?.kind, 'identity');
    assert.deepEqual(connection?.kind === 'identity' && connection.serviceUris, {
      blob: 'https://exostore.blob.core.windows.net',
      queue: 'https://exostore.queue.core.windows.net',
      table: 'https://t.example',
    });
    assert.equal(connection?.kind === 'identity' && connection.credential, 'default');
  });

  it('when nothing is set, then there is no connection; when one service is missing, then the error names its variable and no value', () => {
    assert.equal(readStorageConnection({}), undefined);
    const { AzureWebJobsStorage__queueServiceUri: _, ...noQueue } = identity;
    assert.throws(
      () => readStorageConnection(noQueue),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((p) => p.variable === 'AzureWebJobsStorage__queueServiceUri') &&
        !error.message.includes('acct.blob') &&
        !error.message.includes(identity.AzureWebJobsStorage__clientId),
    );
  });

  it('when the credential is not managedidentity, or a URI is plain http, then the error names the variable', () => {
    assert.throws(
      () => readStorageConnection({ ...identity, AzureWebJobsStorage__credential: 'connectionstring' }),
      /AzureWebJobsStorage__credential must be "managedidentity"/,
    );
    assert.throws(
      () =>
        readStorageConnection({
          ...identity,
          AzureWebJobsStorage__queueServiceUri: 'http://acct.queue.core.windows.net',
        }),
      /AzureWebJobsStorage__queueServiceUri must be an https:\/\/ URL/,
    );
  });
});

describe('storage by managed identity, against Azurite over HTTPS with --oauth basic', () => {
  let h: Harness;
  let azurite: Azurite;
  let userAssigned: { clientId: string };
  let byKey: QueueServiceClient;
  const queue = 'identity-mail';

  before(async () => {
    h = await startHarness(import.meta.filename);
    const ca = await loadOrCreateCertificateAuthority(join('.exosend', 'sandbox'));
    azurite = await startAzurite({ tls: issueServerCertificate(ca) });
    userAssigned = h.sandbox.identity.addUserAssignedIdentity('exosend-storage');
    byKey = QueueServiceClient.fromConnectionString(azurite.connectionString);
  });
  after(async () => {
    await azurite.close();
    await h.close();
  });
  beforeEach(async () => {
    h.sandbox.identity.resetCounters();
    await byKey
      .getQueueClient(queue)
      .clearMessages()
      .catch(() => undefined);
  });

  const identitySettings = (clientId: string) => ({
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsStorage__clientId: clientId,
    AzureWebJobsStorage__blobServiceUri: azurite.serviceUris.blob,
    AzureWebJobsStorage__queueServiceUri: azurite.serviceUris.queue,
    AzureWebJobsStorage__tableServiceUri: azurite.serviceUris.table,
    EXOSEND_QUEUE: queue,
  });
  const status = (id: string) => h.http(messageStatus, { method: 'GET', route: `messages/${id}`, params: { id } });

  it('when the host identity settings name the user-assigned identity, then /api/enqueue, /api/messages and the queue trigger work with its storage token', async () => {
    h.restartApp(identitySettings(userAssigned.clientId));
    const accepted = await h.http(enqueueMail, { route: 'enqueue', body: mailRequest({ subject: 'by identity' }) });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const id = accepted.body.id as string;
    assert.equal((await status(id)).body.status, 'queued');
    assert.ok(
      (h.sandbox.identity.counters.managedIdentityTokensByResource['https://storage.azure.com'] ?? 0) >= 1,
      'a storage token was issued',
    );

    // the queue trigger, handed the message as the host would, records the outcome through the same identity
    const [message] = (await byKey.getQueueClient(queue).receiveMessages()).receivedMessageItems;
    assert.ok(message, 'the request is on the queue');
    await outboundMail(message.messageText, h.context('outbound-mail', { id: message.messageId, dequeueCount: 1 }));
    const finished = await status(id);
    assert.equal(finished.body.status, 'sent', JSON.stringify(finished.body));
  });

  it('when the identity is unknown to the tenant, then /api/enqueue fails with a clear answer and nothing is queued', async () => {
    h.restartApp(identitySettings('0b5a7d1e-0000-4000-8000-00000000dead'));
    const refused = await h.http(enqueueMail, { route: 'enqueue', body: mailRequest({ subject: 'nobody' }) });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'STORAGE_UNAVAILABLE');
    assert.match(refused.body.error.message, /AzureWebJobsStorage__clientId/);
    const peeked = await byKey
      .getQueueClient(queue)
      .peekMessages({ numberOfMessages: 32 })
      .catch(() => ({ peekedMessageItems: [] }));
    assert.equal(peeked.peekedMessageItems.length, 0);
  });

  it('when a connection string is set over HTTPS, then the same routes work with the account key (no token asked for)', async () => {
    h.restartApp({ AzureWebJobsStorage: azurite.connectionString, EXOSEND_QUEUE: queue });
    const accepted = await h.http(enqueueMail, { route: 'enqueue', body: mailRequest({ subject: 'by key' }) });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal((await status(accepted.body.id)).body.status, 'queued');
    assert.equal(h.sandbox.identity.counters.managedIdentityTokensByResource['https://storage.azure.com'], undefined);
  });

  it('when exosend enqueue runs with the identity settings, then it queues the request by identity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exosend-enqueue-identity-'));
    try {
      writeFileSync(join(dir, 'request.json'), JSON.stringify(mailRequest({ subject: 'cli by identity' })));
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...h.sandbox.settings,
        ...identitySettings(userAssigned.clientId),
      };
      delete env['AzureWebJobsStorage'];
      const { code, stdout, stderr } = await runObserved(
        'exosend-cli',
        process.execPath,
        ['dist/cli/exosend.js', 'enqueue', join(dir, 'request.json')],
        { env },
      );
      assert.equal(code, 0, stderr);
      assert.equal(JSON.parse(stdout).status, 'queued');
      const peeked = await byKey.getQueueClient(queue).peekMessages();
      assert.equal(peeked.peekedMessageItems.length, 1);
      assert.ok((h.sandbox.identity.counters.managedIdentityTokensByResource['https://storage.azure.com'] ?? 0) >= 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
