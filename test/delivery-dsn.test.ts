import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeXText } from '../local/sandbox/envelope-dsn.js';
import { mailRequest, startHarness, type Harness } from './harness.js';

describe('delivery status notifications are asked for (RFC 3461)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(import.meta.filename);
  });
  after(() => h.close());
  beforeEach(() => h.resetUnpaced());

  it('when Exchange offers DSN, then MAIL FROM carries RET=HDRS and ENVID=<the id>, and each RCPT TO NOTIFY=FAILURE,DELAY', async () => {
    const id = 'invoice-2026:0042~a.b_c';
    const reply = await h.send(
      mailRequest({
        idempotencyKey: id,
        to: ['ada@fabrikam.example'],
        cc: ['grace@fabrikam.example'],
        bcc: ['Audit@Contoso.example'],
      }),
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const received = h.sandbox.exchange.messages.at(-1)!;
    assert.deepEqual(received.dsn, {
      ret: 'HDRS',
      envid: id,
      notify: {
        'ada@fabrikam.example': ['FAILURE', 'DELAY'],
        'grace@fabrikam.example': ['FAILURE', 'DELAY'],
        'audit@contoso.example': ['FAILURE', 'DELAY'],
      },
    });
  });

  it('when the id is longer than the 100 characters ENVID may hold, then ENVID is left out and NOTIFY still goes', async () => {
    const id = 'k'.repeat(101);
    assert.equal((await h.send(mailRequest({ idempotencyKey: id }))).status, 200);
    const { dsn } = h.sandbox.exchange.messages.at(-1)!;
    assert.equal(dsn?.envid, undefined);
    assert.equal(dsn?.ret, 'HDRS');
    assert.deepEqual(dsn?.notify['ada@fabrikam.example'], ['FAILURE', 'DELAY']);
  });

  it('when an ENVID is xtext-encoded, then the stand-in reads it back as it was', () => {
    assert.equal(decodeXText('a+2Bb+3Dc'), 'a+b=c');
  });
});
