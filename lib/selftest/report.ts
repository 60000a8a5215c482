import type { ProviderName } from '../offers/offer.ts';

/**
 * The selftest's report: `--output json` prints it as is. Stable (a test pins its keys): fields
 * are only ever added, and a change of meaning bumps {@link REPORT_SCHEMA}. Documented in
 * docs/deploy.md "Selftest".
 */
export const REPORT_SCHEMA = 'anex.selftest/v1';

/**
 * How the run rents (ADR 0018): `marker` rents itself with the marker stub; `agent` has a
 * deployed stack's reconciler rent a throw-away pod through the full agent path.
 */
export type SelftestMode = 'marker' | 'agent';

/** Every step of the marker mode, in the order it runs. */
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

/**
 * Every step of the agent mode (`--agent-url`), in the order it runs: the endpoint is
 * checked before anything is created, and no offer is planned (the stack picks it).
 */
export const AGENT_STEP_NAMES = [
  'endpoint',
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
export type StepName = (typeof STEP_NAMES)[number] | (typeof AGENT_STEP_NAMES)[number];

/** The step names of `mode`, in order. */
export function stepNames(mode: SelftestMode): readonly StepName[] {
  return mode === 'agent' ? AGENT_STEP_NAMES : STEP_NAMES;
}

/** What each step proves, as the table prints it. */
export const STEP_TITLES: Readonly<Record<StepName, string>> = {
  endpoint: 'agent endpoint reachable',
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

/** The agent mode's titles where its step proves something else than the marker mode's. */
export const AGENT_STEP_TITLES: Readonly<Partial<Record<StepName, string>>> = {
  leftovers: 'leftovers of earlier runs cleaned (selftest pods and instances)',
  plan: 'price ceiling from the budget',
  create: 'pod accepted by the API server',
  'visible-by-tag': "rented by the stack: the pod's instance visible by tag",
  running: 'agent bootstrapped and reported started',
  'billed-price': 'billed price within the ceiling',
  destroy: 'pod deleted',
  gone: 'instance gone (destroyed by the stack)',
  'no-leftovers': 'no instance for the pod and no selftest pod left (GC path)',
};

function titleOf(name: StepName, mode: SelftestMode): string {
  return (mode === 'agent' ? AGENT_STEP_TITLES[name] : undefined) ?? STEP_TITLES[name];
}

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

/** What the agent mode rented through: the deployed stack and the throw-away pod. */
export interface StackRental {
  /** the agent endpoint the stack's machines bootstrap from */
  agentUrl: string;
  namespace: string;
  /** the pod's name, `anex-selftest-<8 hex>` */
  pod: string;
  /** the pod's UID (null until the API server accepted it): the instance's tag ends with it */
  podUid: string | null;
  /** the stack's cluster id, read from the instance's tag (null until it is seen) */
  clusterId: string | null;
  /** the pod's `anex.sh/price-max`: the budget over the longest duration */
  ceilingPerHour: number;
  /** ceiling × the longest duration: never above the budget */
  worstCaseUsd: number;
  /** the longest the run keeps the pod, seconds */
  maxSeconds: number;
  /** the pod's activeDeadlineSeconds: the stack ends the machine even if the selftest was killed */
  activeDeadlineSeconds: number;
  image: string;
}

export interface SelftestReport {
  schema: typeof REPORT_SCHEMA;
  provider: ProviderName;
  /** added in v1 with the agent mode; a report without it is `marker` */
  mode: SelftestMode;
  result: SelftestResult;
  startedAt: string;
  finishedAt: string;
  budgetUsd: number;
  /** the marker mode's offer; null in the agent mode (the stack picks the offer) */
  plan: PlannedRental | null;
  /** the agent mode's stack and pod; null in the marker mode */
  stack: StackRental | null;
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
export function renderStep(step: StepResult, mode: SelftestMode = 'marker'): string {
  const mark = step.status === 'ok' ? '✔' : step.status === 'fail' ? '✘' : '-';
  const time = step.seconds === null ? '' : ` (${step.seconds.toFixed(1)} s)`;
  return `${mark} ${titleOf(step.name, mode)}${time}${step.message === '' ? '' : `: ${step.message}`}\n`;
}

export function renderPlan(plan: PlannedRental, provider: ProviderName, budgetUsd: number): string {
  return (
    `anex selftest will rent on ${provider}: 1x ${plan.gpuName}${plan.location ? ` (${plan.location})` : ''}, ` +
    `offer ${plan.offerId}, $${plan.pricePerHour.toFixed(4)}/h, image ${plan.image}\n` +
    `worst case $${plan.worstCaseUsd.toFixed(4)} (kept at most ${Math.round(plan.maxSeconds / 60)} min); ` +
    `budget $${budgetUsd.toFixed(2)} allows up to $${plan.ceilingPerHour.toFixed(4)}/h\n`
  );
}

export function renderStackPlan(stack: StackRental, provider: ProviderName, budgetUsd: number): string {
  return (
    `anex selftest will create pod ${stack.namespace}/${stack.pod} (image ${stack.image}) for the stack at ` +
    `${stack.agentUrl} to rent on ${provider}, anex.sh/price-max $${stack.ceilingPerHour.toFixed(4)}/h\n` +
    `worst case $${stack.worstCaseUsd.toFixed(4)} (kept at most ${Math.round(stack.maxSeconds / 60)} min, ` +
    `activeDeadlineSeconds ${stack.activeDeadlineSeconds}); budget $${budgetUsd.toFixed(2)}\n`
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
