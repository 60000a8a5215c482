import { describe, expect, it } from 'vitest';
import { planBudget, spendUsd } from '../../../lib/selftest/budget.ts';

const MIN = 60_000;

describe('planBudget', () => {
  it.each([
    // price $/h, budget, minutes, worst case, ceiling $/h, within budget, time limit (min)
    [0.3, 0.5, 20, 0.1, 1.5, true, 20],
    [1.5, 0.5, 20, 0.5, 1.5, true, 20],
    [1.6, 0.5, 20, 0.5333, 1.5, false, 18.75],
    [3.0, 0.5, 20, 1.0, 1.5, false, 10],
    [0.01, 0.5, 240, 0.04, 0.125, true, 240],
    // $0.50 over 7 min is $4.285714…/h: the ceiling is rounded down, never above the budget
    [0.01, 0.5, 7, 0.0012, 4.2857, true, 7],
  ])(
    'price %s $/h, budget $%s, %s min: worst case %s, ceiling %s, within budget %s',
    (price, budget, minutes, worst, ceiling, ok, limitMin) => {
      const plan = planBudget({ pricePerHour: price, budgetUsd: budget, maxDurationMs: minutes * MIN });
      expect(plan.worstCaseUsd).toBe(worst);
      expect(plan.ceilingPerHour).toBe(ceiling);
      expect(plan.withinBudget).toBe(ok);
      expect(plan.timeLimitMs).toBe(limitMin * MIN);
    },
  );

  it('never lets the time limit cost more than the budget', () => {
    for (const price of [0.05, 0.37, 1.2, 4.4, 12]) {
      const plan = planBudget({ pricePerHour: price, budgetUsd: 0.5, maxDurationMs: 30 * MIN });
      expect(spendUsd(price, plan.timeLimitMs)).toBeLessThanOrEqual(0.5);
    }
  });
});

describe('spendUsd', () => {
  it.each([
    [0.36, 10 * 60_000, 0.06],
    [0.36, 0, 0],
    [0.36, -5, 0],
    [0.0108, 7_000, 0],
  ])('$%s/h for %s ms costs $%s', (price, ms, usd) => {
    expect(spendUsd(price, ms)).toBe(usd);
  });
});
