/**
 * The spend bound of `anex selftest` (ADR 0018): the run keeps an instance at most
 * `maxDurationMs` — every wait included, destroy included — so its worst case is the price
 * times that. Pure, so the rule is tested on its own.
 */
export interface BudgetInput {
  /** USD per hour of the offer (or, once read back, what the provider bills) */
  pricePerHour: number;
  budgetUsd: number;
  /** the longest the run may keep the instance, ms */
  maxDurationMs: number;
}

export interface BudgetPlan {
  /** the most the instance may cost if every wait runs to its end */
  worstCaseUsd: number;
  /** the highest USD/h an offer may have for this budget and duration (four decimals, rounded down) */
  ceilingPerHour: number;
  /** how long the instance may be kept at this price: the duration, shortened if the budget says so */
  timeLimitMs: number;
  /** false: the worst case exceeds the budget; nothing may be rented */
  withinBudget: boolean;
}

const HOUR_MS = 3_600_000;

export function planBudget(input: BudgetInput): BudgetPlan {
  const { pricePerHour, budgetUsd, maxDurationMs } = input;
  const worstCaseUsd = roundUsd(pricePerHour * (maxDurationMs / HOUR_MS));
  // Rounded down: the agent mode puts it on its pod as anex.sh/price-max, and the ceiling ×
  // the duration must never exceed the budget.
  const ceilingPerHour = Math.floor((budgetUsd / (maxDurationMs / HOUR_MS)) * 10_000 + 1e-9) / 10_000;
  const affordableMs = pricePerHour > 0 ? Math.floor((budgetUsd / pricePerHour) * HOUR_MS) : maxDurationMs;
  return {
    worstCaseUsd,
    ceilingPerHour,
    timeLimitMs: Math.min(maxDurationMs, affordableMs),
    withinBudget: pricePerHour * (maxDurationMs / HOUR_MS) <= budgetUsd,
  };
}

/** What `ms` at `pricePerHour` costs. */
export function spendUsd(pricePerHour: number, ms: number): number {
  return roundUsd(pricePerHour * (Math.max(0, ms) / HOUR_MS));
}

/** Four decimals: a hundredth of a cent, finer than any provider bills. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 10_000) / 10_000;
}
