import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextOccurrence, parseNcrontab } from '../src/local-host/ncrontab.js';
import { resolveSettings } from '../src/local-host/registrations.js';

describe('NCRONTAB schedules of the local host', () => {
  const after = new Date(2026, 10, 27, 23, 57, 30);

  it('when the schedule is every five minutes, then the next run is on the next multiple of five', () => {
    assert.deepEqual(nextOccurrence(parseNcrontab('0 */5 * * * *'), after), new Date(2026, 10, 28, 0, 0, 0));
  });

  it('when the schedule names seconds, a range and a list, then each is honoured', () => {
    assert.deepEqual(nextOccurrence(parseNcrontab('15,45 * * * * *'), after), new Date(2026, 10, 27, 23, 57, 45));
    assert.deepEqual(nextOccurrence(parseNcrontab('0 0 9-17 * * 1-5'), after), new Date(2026, 10, 30, 9, 0, 0), 'Monday 09:00');
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
