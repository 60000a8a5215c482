import type { ProviderName } from '../offers/offer.ts';

/**
 * The selftest's report: `--output json` prints it as is. Stable (a test pins its keys): fields
 * are only ever added, and a change of meaning bumps {@link REPORT_SCHEMA}. Documented in
 * docs/deploy.md "Selftest".
 */
export const REPORT_SCHEMA = 'anex.selftest/v1';

/** Every step, in the order it runs. */
export const STEP_NAMES = [
  'leftovers',
  'plan',
  'create',
  'visible-by-tag',
  'running',
  'marker',
  'billed-price',
  'destroy',
  'gone',
  'no-leftovers',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** What each step proves, as the table prints it. */
export const STEP_TITLES: Readonly<Record<StepName, string>> = {
  leftovers: 'leftovers of earlier runs cleaned',
  plan: 'offer within budget',
  create: 'create accepted',
  'visible-by-tag': 'instance visible by tag (adoption path)',
  running: 'running',
  marker: 'marker seen in the provider log',
  'billed-price': 'billed price matches the offer',
  destroy: 'destroy accepted',
  gone: 'instance gone',
  'no-leftovers': 'no selftest instance left (GC path)',
};

export type StepStatus = 'ok' | 'fail' | 'skipped';

export interface StepResult {
  name: StepName;
  status: StepStatus;
  /** how long the step took, seconds (null when skipped) */
  seconds: number | null;
  /** what was seen; on failure the provider's own words */
  message: string;
}

/** `pass`: every step ok. `refused`: the worst case exceeded the budget, nothing rented. */
export type SelftestResult = 'pass' | 'fail' | 'refused' | 'declined' | 'interrupted';

export interface PlannedRental {
  offerId: string;
  gpuName: string;
  gpuCount: number;
  pricePerHour: number;
  /** price × the longest the run keeps the instance */
  worstCaseUsd: number;
  /** the highest USD/h the budget allows for that duration */
  ceilingPerHour: number;
  /** the longest the run keeps the instance, seconds */
  maxSeconds: number;
  image: string;
  location: string | null;
}

export interface SelftestReport {
  schema: typeof REPORT_SCHEMA;
  provider: ProviderName;
  result: SelftestResult;
  startedAt: string;
  finishedAt: string;
  budgetUsd: number;
  plan: PlannedRental | null;
  instanceId: string | null;
  tag: string | null;
  steps: StepResult[];
  /** selftest instances destroyed before this run's (an interrupted run's), and left after it */
  leftovers: { cleanedBefore: number; remaining: number };
  /** billed USD/h × the time the instance was rented (create accepted → gone) */
  spentUsd: number;
  /** with `--keep-logs`: the last lines the provider's log API served for the instance; else null */
  logs: string[] | null;
}

export function renderJson(report: SelftestReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** One step as a line: `✔ create accepted (1.2 s): instance 42`. */
export function renderStep(step: StepResult): string {
  const mark = step.status === 'ok' ? '✔' : step.status === 'fail' ? '✘' : '-';
  const time = step.seconds === null ? '' : ` (${step.seconds.toFixed(1)} s)`;
  return `${mark} ${STEP_TITLES[step.name]}${time}${step.message === '' ? '' : `: ${step.message}`}\n`;
}

export function renderPlan(plan: PlannedRental, provider: ProviderName, budgetUsd: number): string {
  return (
    `anex selftest will rent on ${provider}: 1x ${plan.gpuName}${plan.location ? ` (${plan.location})` : ''}, ` +
    `offer ${plan.offerId}, $${plan.pricePerHour.toFixed(4)}/h, image ${plan.image}\n` +
    `worst case $${plan.worstCaseUsd.toFixed(4)} (kept at most ${Math.round(plan.maxSeconds / 60)} min); ` +
    `budget $${budgetUsd.toFixed(2)} allows up to $${plan.ceilingPerHour.toFixed(4)}/h\n`
  );
}

/** The closing lines of the table output: the verdict and what was spent. */
export function renderSummary(report: SelftestReport): string {
  const verdict = {
    pass: 'PASS',
    fail: 'FAIL',
    refused: 'REFUSED (nothing rented)',
    declined: 'NOT CONFIRMED (nothing rented)',
    interrupted: 'INTERRUPTED',
  }[report.result];
  return (
    `${verdict}: spent $${report.spentUsd.toFixed(4)} of the $${report.budgetUsd.toFixed(2)} budget; ` +
    `${report.leftovers.remaining} selftest instance(s) left rented\n`
  );
}
