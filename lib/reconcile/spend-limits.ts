import type { PodView } from '../kube/cluster.ts';
import type { Offer } from '../offers/offer.ts';
import type { Instance } from '../providers/provider.ts';
import type { PodRecord } from '../state/store.ts';
import type { Observed, ObservedPod, PodPlan } from './types.ts';

/**
 * The operator's spend limits (issue #16 §4, ADR 0019), already validated (lib/config parses
 * them). A limit left out does not apply; `rentNamespaces` always does.
 */
export interface SpendLimits {
  /** namespaces whose pods may rent at all; `'*'`: every namespace (an explicit choice) */
  rentNamespaces: readonly string[] | '*';
  /** ceiling on the $/h of any one pod's machine, whatever its `anex.sh/price-max` says */
  maxPricePerHour?: number;
  /** ceiling on instances billing at once (live, being created, rented this pass) */
  maxInstances?: number;
  /** ceiling on the summed $/h of those instances */
  maxSpendPerHour?: number;
  /** per-namespace budgets; a namespace not listed has none */
  namespaceBudgets?: Readonly<Record<string, NamespaceBudget>>;
}

export interface NamespaceBudget {
  perHour?: number;
  /** compared with the namespace's $/h × 24: the day projected at the billed rate (docs/cost.md) */
  perDay?: number;
}

/** The settings that set each limit, named in events so the operator knows what to change. */
export const LIMIT_SETTINGS = {
  namespaces: 'ANEX_RENT_NAMESPACES',
  price: 'ANEX_MAX_PRICE_PER_HOUR',
  instances: 'ANEX_MAX_INSTANCES',
  spend: 'ANEX_MAX_SPEND_PER_HOUR',
  budgets: 'ANEX_NAMESPACE_BUDGETS',
} as const;

/** What is billing (or may be, for a create in flight): the figures every limit is checked against. */
export interface Spend {
  perHour: number;
  instances: number;
  /** $/h by namespace (instances whose pod is unknown count in the totals only) */
  byNamespace: Map<string, number>;
}

/** Floating-point slack: 0.4 + 0.6 must fit a cap of 1.0. */
const EPSILON = 1e-9;

export function namespaceEnabled(limits: SpendLimits, namespace: string): boolean {
  return limits.rentNamespaces === '*' || limits.rentNamespaces.includes(namespace);
}

/**
 * The spend before this pass rents anything: every instance of ours that is listed or
 * recorded (pods, orphan records, orphan instances) at its billed $/h, and each create in
 * flight (a `creating` record without its instance yet) at the pod's price ceiling. An
 * instance the pod's own plan destroys is left out: its replacement is only rented once
 * the destroy is confirmed (execute.ts). Other plans' destroys still count until confirmed.
 */
export function currentSpend(input: {
  pods: readonly ObservedPod[];
  orphanRecords: readonly { record: PodRecord; instances: readonly Instance[] | undefined }[];
  orphanInstances: readonly Instance[];
  /** a per-pod pass's view of the rest (Observed.others) */
  others?: Observed['others'];
  plans: readonly PodPlan[];
  limits: SpendLimits;
}): Spend {
  const spend: Spend = { perHour: 0, instances: 0, byNamespace: new Map() };
  const destroyed = new Map(input.plans.map((p) => [p.podUid, new Set(p.destroy)]));
  const provisioning = new Set(input.plans.filter((p) => p.provision !== undefined).map((p) => p.podUid));
  for (const op of input.pods) {
    const gone = destroyed.get(op.view.uid) ?? new Set<string>();
    const billing = billingOf(op.instances, op.record).filter((b) => !gone.has(b.id));
    for (const b of billing) add(spend, b.price, op.view.namespace);
    const inFlight =
      op.record?.stage === 'creating' && billing.length === 0 && !provisioning.has(op.view.uid);
    if (inFlight) add(spend, priceCeiling(input.limits, op.requirements) ?? 0, op.view.namespace);
  }
  const records = [...input.orphanRecords, ...(input.others?.records ?? [])];
  for (const { record, instances } of records) {
    const billing = billingOf(instances, record);
    for (const b of billing) add(spend, b.price, record.namespace);
    // another pod's create in flight: its price is not known yet; the per-pod ceiling bounds it
    if (record.stage === 'creating' && billing.length === 0)
      add(spend, input.limits.maxPricePerHour ?? 0, record.namespace);
  }
  const loose = [...input.orphanInstances, ...(input.others?.instances ?? [])];
  for (const instance of loose) add(spend, instance.pricePerHour ?? 0, undefined);
  return spend;
}

/**
 * The spend as the store records it (`anex status`, without listing the providers): each
 * record's instance at its recorded $/h, and each create in flight as one instance at 0 $/h
 * (its price is known once its instance is). Finished records bill nothing.
 */
export function recordedSpend(records: readonly PodRecord[]): Spend {
  const spend: Spend = { perHour: 0, instances: 0, byNamespace: new Map() };
  for (const r of records) {
    if (r.stage === 'finished') continue;
    if (r.instance !== undefined) add(spend, r.instance.pricePerHour ?? 0, r.namespace);
    else if (r.stage === 'creating') add(spend, 0, r.namespace);
  }
  return spend;
}

function billingOf(
  listed: readonly Instance[] | undefined,
  record: PodRecord | undefined,
): { id: string; price: number }[] {
  const out = new Map<string, number>();
  for (const i of listed ?? []) out.set(i.id, i.pricePerHour ?? record?.instance?.pricePerHour ?? 0);
  const recorded = record?.instance;
  if (recorded !== undefined && !out.has(recorded.id)) out.set(recorded.id, recorded.pricePerHour ?? 0);
  return [...out].map(([id, price]) => ({ id, price }));
}

function add(spend: Spend, price: number, namespace: string | undefined): void {
  spend.perHour += price;
  spend.instances += 1;
  if (namespace !== undefined)
    spend.byNamespace.set(namespace, (spend.byNamespace.get(namespace) ?? 0) + price);
}

/** The most a pod may cost per hour: the lower of its price-max and the operator's ceiling. */
function priceCeiling(limits: SpendLimits, requirements: ObservedPod['requirements']): number | undefined {
  const constraint = requirements.ok ? requirements.requirements.pricePerHour : undefined;
  const own =
    constraint === undefined ? undefined : 'exact' in constraint ? constraint.exact : constraint.max;
  const ceilings = [own, limits.maxPricePerHour].filter((n): n is number => n !== undefined);
  return ceilings.length === 0 ? undefined : Math.min(...ceilings);
}

/** Why a pod may not rent now: the limit (its setting) and the figures, worded for the user. */
export interface Held {
  reason: 'SpendLimit' | 'NamespaceNotEnabled' | 'GpuLimitExceeded';
  message: string;
}

/** A pod's verdict: held, or the candidates it may rent and the $/h reserved for it this pass. */
export type Admission = { held: Held } | { candidates: readonly Offer[]; reserve: number };

/**
 * Checks one pod that is about to rent against every limit, given the spend so far in
 * this pass. Candidates above a limit's headroom are dropped (the executor may try any of
 * the first `tries`, so the most expensive of those is what is reserved); no candidate left
 * holds the pod, with the figures of the cheapest one.
 */
export function admit(input: {
  namespace: string;
  candidates: readonly Offer[];
  spend: Spend;
  limits: SpendLimits;
  tries: number;
  /** the sum of the pod's containers' nvidia.com/gpu limits, when it sets any */
  gpuLimit?: number;
}): Admission {
  const { namespace, spend, limits } = input;
  if (!namespaceEnabled(limits, namespace)) return { held: notEnabled(namespace) };
  const withinGpus = withinGpuLimit(input.candidates, input.gpuLimit);
  if ('held' in withinGpus) return withinGpus;
  if (limits.maxInstances !== undefined && spend.instances + 1 > limits.maxInstances)
    return {
      held: spendHeld(
        `instances ${spend.instances} + 1 > cap ${limits.maxInstances} (${LIMIT_SETTINGS.instances})`,
      ),
    };
  let candidates = withinGpus.candidates;
  for (const cap of caps(namespace, spend, limits)) {
    const fitting = candidates.filter((o) => o.pricePerHour <= cap.headroom + EPSILON);
    if (fitting.length === 0 && candidates.length > 0) {
      const cheapest = Math.min(...candidates.map((o) => o.pricePerHour));
      return { held: spendHeld(cap.describe(cheapest)) };
    }
    candidates = fitting;
  }
  const tried = candidates.slice(0, Math.max(1, input.tries));
  const reserve = tried.length === 0 ? 0 : Math.max(...tried.map((o) => o.pricePerHour));
  return { candidates, reserve };
}

/**
 * A ResourceQuota counts a pod's nvidia.com/gpu limits: a machine with more GPUs than those
 * would be GPUs the quota never saw (a `gpu-count-min/max` range around the limits allows
 * them), so it is not rented. A pod without GPU limits is not bounded here (ADR 0019).
 */
function withinGpuLimit(
  candidates: readonly Offer[],
  gpuLimit: number | undefined,
): { held: Held } | { candidates: readonly Offer[] } {
  if (gpuLimit === undefined || gpuLimit <= 0) return { candidates };
  const fitting = candidates.filter((o) => o.gpuCount <= gpuLimit);
  if (fitting.length > 0 || candidates.length === 0) return { candidates: fitting };
  const fewest = Math.min(...candidates.map((o) => o.gpuCount));
  return {
    held: {
      reason: 'GpuLimitExceeded',
      message: `GpuLimitExceeded: every matching machine has ${fewest} or more GPUs, above the containers' nvidia.com/gpu limits (${gpuLimit}) that a ResourceQuota counts; nothing was rented. Set anex.sh/gpu-count to the limits or raise them`,
    },
  };
}

interface Cap {
  /** the most one more machine may cost per hour under this limit */
  headroom: number;
  describe(price: number): string;
}

function caps(namespace: string, spend: Spend, limits: SpendLimits): Cap[] {
  const out: Cap[] = [];
  const { maxPricePerHour: ceiling, maxSpendPerHour: total } = limits;
  if (ceiling !== undefined)
    out.push({
      headroom: ceiling,
      describe: (price) =>
        `pod $/h ${money(price)} > ceiling ${money(ceiling)} (${LIMIT_SETTINGS.price}): no matching offer at or under the ceiling`,
    });
  if (total !== undefined)
    out.push({
      headroom: total - spend.perHour,
      describe: (price) =>
        `total $/h ${money(spend.perHour)} + ${money(price)} > cap ${money(total)} (${LIMIT_SETTINGS.spend})`,
    });
  const budget = limits.namespaceBudgets?.[namespace];
  const used = spend.byNamespace.get(namespace) ?? 0;
  const { perHour, perDay } = budget ?? {};
  if (perHour !== undefined)
    out.push({
      headroom: perHour - used,
      describe: (price) =>
        `namespace ${namespace} $/h ${money(used)} + ${money(price)} > budget ${money(perHour)}/h (${LIMIT_SETTINGS.budgets})`,
    });
  if (perDay !== undefined)
    out.push({
      headroom: perDay / 24 - used,
      describe: (price) =>
        `namespace ${namespace} $/day ${money(used * 24)} + ${money(price * 24)} > budget ${money(perDay)}/day (${LIMIT_SETTINGS.budgets}; a day projected as 24 h at the billed $/h)`,
    });
  return out;
}

function notEnabled(namespace: string): Held {
  return {
    reason: 'NamespaceNotEnabled',
    message: `Namespace ${namespace} may not rent machines: the operator has not enabled it (${LIMIT_SETTINGS.namespaces}); nothing was rented`,
  };
}

function spendHeld(figures: string): Held {
  return {
    reason: 'SpendLimit',
    message: `SpendLimit: ${figures}; nothing was rented, the pod waits until it fits`,
  };
}

export function money(n: number): string {
  return n.toFixed(2);
}

/** The pods about to rent, oldest first (then by uid), so the same pod wins every pass. */
export function byPodAge(a: PodView, b: PodView): number {
  const age = Date.parse(a.creationTimestamp ?? '') - Date.parse(b.creationTimestamp ?? '');
  if (Number.isFinite(age) && age !== 0) return age;
  return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
}

/** One limit and how much of it is used: what `anex status` shows and the alarm watches. */
export interface LimitUse {
  /** e.g. "total $/h", "namespace team-a $/day" */
  limit: string;
  setting: string;
  used: number;
  cap: number;
}

/** Every configured limit with its use (the per-pod ceiling is not a sum, so it is not listed). */
export function limitUses(spend: Spend, limits: SpendLimits): LimitUse[] {
  const uses: LimitUse[] = [];
  if (limits.maxInstances !== undefined)
    uses.push({
      limit: 'instances',
      setting: LIMIT_SETTINGS.instances,
      used: spend.instances,
      cap: limits.maxInstances,
    });
  if (limits.maxSpendPerHour !== undefined)
    uses.push({
      limit: 'total $/h',
      setting: LIMIT_SETTINGS.spend,
      used: spend.perHour,
      cap: limits.maxSpendPerHour,
    });
  for (const [namespace, budget] of Object.entries(limits.namespaceBudgets ?? {})) {
    const used = spend.byNamespace.get(namespace) ?? 0;
    if (budget.perHour !== undefined)
      uses.push({
        limit: `namespace ${namespace} $/h`,
        setting: LIMIT_SETTINGS.budgets,
        used,
        cap: budget.perHour,
      });
    if (budget.perDay !== undefined)
      uses.push({
        limit: `namespace ${namespace} $/day`,
        setting: LIMIT_SETTINGS.budgets,
        used: used * 24,
        cap: budget.perDay,
      });
  }
  return uses;
}

/** The share of a limit at which the alarm fires (and `anex run` warns). */
export const NEAR_LIMIT = 0.8;

/** The highest used/cap ratio over the limits (0 without limits): the alarm's metric. */
export function highestUse(uses: readonly LimitUse[]): number {
  return uses.reduce((max, u) => Math.max(max, u.cap === 0 ? (u.used > 0 ? 1 : 0) : u.used / u.cap), 0);
}
