import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createHttpHost } from '../local/host/http-host.js';
import { nextOccurrence, parseNcrontab } from '../local/host/ncrontab.js';
import { resolveSettings } from '../local/host/registrations.js';

describe('NCRONTAB schedules of the local host', () => {
  const after = new Date(2026, 10, 27, 23, 57, 30);

  it('when the schedule is every five minutes, then the next run is on the next multiple of five', () => {
    assert.deepEqual(nextOccurrence(parseNcrontab('0 */5 * * * *'), after), new Date(2026, 10, 28, 0, 0, 0));
  });

  it('when the schedule names seconds, a range and a list, then each is honoured', () => {
    assert.deepEqual(nextOccurrence(parseNcrontab('15,45 * * * * *'), after), new Date(2026, 10, 27, 23, 57, 45));
    assert.deepEqual(
      nextOccurrence(parseNcrontab('0 0 9-17 * * 1-5'), after),
      new Date(2026, 10, 30, 9, 0, 0),
      'Monday 09:00',
    );
  });

  it('when a run is due exactly now, then the next one is strictly later', () => {
    const now = new Date(2026, 10, 28, 0, 0, 0);
    assert.deepEqual(nextOccurrence(parseNcrontab('0 */5 * * * *'), now), new Date(2026, 10, 28, 0, 5, 0));
  });

  it('when an expression has five fields or a value out of range, then it is refused with the reason', () => {
    assert.throws(() => parseNcrontab('*/5 * * * *'), /six fields/);
    assert.throws(() => parseNcrontab('0 61 * * * *'), /out of range for minute/);
    assert.throws(() => parseNcrontab('0 x * * * *'), /not a valid minute/);
  });

  it('when a binding names an app setting, then it is resolved, and an unset one is an error', () => {
    assert.equal(resolveSettings('%Q%-poison', { Q: 'outbound-mail' }), 'outbound-mail-poison');
    assert.throws(() => resolveSettings('%MISSING%', {}), /MISSING/);
  });
});

describe('function keys in the local host, as the Functions host reads them', () => {
  // AuthenticationLevelHandler.GetAuthorizationKeyInfoAsync (azure-functions-host): a present
  // x-functions-key header is the key, even when empty; `code` is read only when the header is absent.
  const key = 'the-function-key';
  let server: Server;
  let base: string;
  before(async () => {
    const handler = () => Promise.resolve({ status: 200, jsonBody: { ok: true } });
    server = createHttpHost({
      functionKey: key,
      log: () => undefined,
      functions: [{ name: 'ping', route: 'ping', methods: ['GET'], authLevel: 'function', handler } as never],
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/ping`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const cases: Array<[string, string, Record<string, string>, number]> = [
    ['the header holds the key', '', { 'x-functions-key': key }, 200],
    ['only ?code= holds the key', `?code=${key}`, {}, 200],
    ['the header is empty and ?code= holds the key', `?code=${key}`, { 'x-functions-key': '' }, 401],
    ['the header is wrong and ?code= holds the key', `?code=${key}`, { 'x-functions-key': 'wrong' }, 401],
    ['neither holds it', '?code=wrong', {}, 401],
  ];
  for (const [when, query, headers, status] of cases) {
    it(`when ${when}, then the answer is ${status}`, async () => {
      assert.equal((await fetch(`${base}${query}`, { headers })).status, status);
    });
  }
});
