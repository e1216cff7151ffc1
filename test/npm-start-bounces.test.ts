import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { cleanUpStarts, ctrlC, npmStart, type Started } from './npm-start.js';

const call = (started: Started, method: string, route: string, body?: unknown) =>
  fetch(`${started.baseUrl}/api/${route}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-functions-key': started.key },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });

describe('npm start: a bounce read back, end to end', () => {
  after(cleanUpStarts);

  // Also pins a regression: on a fresh storage account the first /api/send answered 503
  // STORAGE_UNAVAILABLE (Table 404), because its records' tables were created only by an enqueue.
  it('when a developer sends to nobody@fabrikam.example, then the record turns failed for that recipient and a second send is refused as suppressed', async () => {
    const started = await npmStart();
    try {
      assert.match(started.output(), /deliveryReports\s+timer \*\/10 \* \* \* \* \*/);
      const sent = await call(started, 'POST', 'send', {
        to: ['nobody@fabrikam.example', 'ada@fabrikam.example'],
        subject: 'Quarterly report',
        text: 'Attached.',
      });
      assert.equal(sent.status, 200, `${await sent.clone().text()}\n${started.output()}`);
      const { id } = (await sent.json()) as { id: string };
      let nobody: { status: string; diagnosis?: string; source: string } | undefined;
      for (let i = 0; i < 60 && nobody?.status !== 'failed'; i++) {
        await sleep(500);
        const view = (await (await call(started, 'GET', `messages/${id}`)).json()) as {
          delivery: { recipients: { recipient: string; status: string; diagnosis?: string; source: string }[] };
        };
        nobody = view.delivery.recipients.find((r) => r.recipient === 'nobody@fabrikam.example');
      }
      assert.deepEqual(
        [nobody?.status, nobody?.diagnosis, nobody?.source],
        ['failed', 'RECIPIENT_NOT_FOUND', 'report'],
        started.output(),
      );
      const again = await call(started, 'POST', 'send', {
        to: ['nobody@fabrikam.example'],
        subject: 'Again',
        text: 'x',
      });
      assert.equal(again.status, 403);
      assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'RECIPIENT_SUPPRESSED');
    } finally {
      await ctrlC(started);
    }
  });
});
