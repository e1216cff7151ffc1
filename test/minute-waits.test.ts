import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BudgetLimits } from '../src/budget/budget.js';
import { minuteSpentForMs, noteMinuteWait, type MinuteWaits } from '../src/budget/minute-waits.js';

/** A window of a second: waits 1.5 s apart or more belong to different runs. */
const limits: BudgetLimits = {
  ratePerWindow: 2,
  windowInMs: 1000,
  maxConnections: 3,
  recipientsPerDay: 10_000,
  dayInMs: 86_400_000,
};

/** The run after these waits ([began, ended] each, in the order they were written). */
function runAfter(waits: [number, number][]): { minuteWaits?: MinuteWaits } {
  const ledger: { minuteWaits?: MinuteWaits } = {};
  for (const [began, ended] of waits) noteMinuteWait(ledger, began, ended, limits);
  return ledger;
}

describe('how long a mailbox minute has stayed spent', () => {
  it('when waits end in another order than they began, then they make one run from the first wait', () => {
    // the free slot went to a later waiter first, then to the one that had waited since 0.2 s
    const ledger = runAfter([
      [1800, 2000],
      [200, 2600],
      [2500, 3000],
      [2900, 3600],
    ]);
    assert.equal(minuteSpentForMs(ledger, 3600, limits), 3400);
  });

  it('when a wait begins more than 1.5 windows after the last one ended, then a new run starts', () => {
    const ledger = runAfter([
      [0, 500],
      [2100, 2300],
    ]);
    assert.equal(minuteSpentForMs(ledger, 2300, limits), 200);
  });

  it('when a wait begins less than 1.5 windows after the last one ended, then it continues the run', () => {
    const ledger = runAfter([
      [0, 500],
      [1400, 1600],
    ]);
    assert.equal(minuteSpentForMs(ledger, 1600, limits), 1600);
  });

  it('when a wait that ended more than 1.5 windows before the run began is written late, then the run stays as it was', () => {
    const ledger = runAfter([
      [3000, 3500],
      [0, 1000],
    ]);
    assert.equal(minuteSpentForMs(ledger, 3500, limits), 500);
  });

  it('when no wait has ended for more than 1.5 windows, then the minute is not spent', () => {
    const ledger = runAfter([[0, 4000]]);
    assert.equal(minuteSpentForMs(ledger, 5400, limits), 4000);
    assert.equal(minuteSpentForMs(ledger, 5600, limits), undefined);
  });
});
