import { randomUUID } from 'node:crypto';
import type { ProviderName } from '../offers/offer.ts';
import type { Provider } from '../providers/provider.ts';
import { type CallCounts, counting } from './counting.ts';
import { type ExecuteDeps, execute, type SkipReason } from './execute.ts';
import { type ForwardCandidate, syncForwarders } from './forwarders.ts';
import { observe, observeOffers } from './observe.ts';
import { type PassError, passError } from './pass-errors.ts';
import { offersWanted, plan } from './plan.ts';
import { needsSpendLease, SPEND_LEASE, takeSpendLease } from './spend-lease.ts';
import { currentSpend, type LimitUse, limitUses, type SpendLimits } from './spend-limits.ts';
import type { Observed, ObservedPod, PlanLabel, PodPlan } from './types.ts';

export type PassDeps = ExecuteDeps;

export interface PassOptions {
  /** decision time, epoch ms (the same for every pod of the pass) */
  now: number;
  /** epoch ms: no new work after it (set before the Lambda deadline) */
  deadline: number;
  signal?: AbortSignal;
  /** only this pod (the per-pod queue function); garbage collection is left to the full pass */
  podUid?: string;
  /** lease owner; default a fresh id per pass */
  owner?: string;
  concurrency?: number;
}

export interface PassSummary {
  /** pods on the virtual nodes that this pass looked at */
  pods: number;
  plans: Partial<Record<PlanLabel, number>>;
  executed: number;
  skipped: Record<SkipReason, number>;
  statusWrites: number;
  events: number;
  /** distinct requirement sets whose offers were listed */
  offerListings: number;
  providersDown: ProviderName[];
  errors: PassError[];
  /**
   * Spend against each limit set, as observed at the start of this pass (ADR 0019); absent
   * without limits. The tick alarms on it; `anex run` warns.
   */
  spendLimits?: LimitUse[];
  /** forwarder pods created and deleted, and pods given their address (ADR 0024); absent without forwarding */
  forwarders?: { created: number; deleted: number; addressed: number };
  /** calls by `<kind>.<method>`, counted on the dependencies this pass was given */
  calls: CallCounts;
  /** wall milliseconds */
  durationMs: number;
}

/**
 * One reconcile pass: observe → plan (pure) → execute. Used by the scheduled tick (all
 * pods), the per-pod queue (`podUid`) and `anex run`. Idempotent and safe to run several at
 * once. Throws only when nothing can be decided (the pod records cannot be read); every
 * other failure is in `errors` and the pass goes on.
 */
export async function runPass(deps: PassDeps, options: PassOptions): Promise<PassSummary> {
  const started = deps.clock();
  const calls: CallCounts = {};
  const counted = countedDeps(deps, calls);
  const observeOptions = {
    now: options.now,
    deadline: options.deadline,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.podUid === undefined ? {} : { podUid: options.podUid }),
  };
  const owner = options.owner ?? `pass-${randomUUID()}`;
  // With a cap over several pods, renting is serialised across passes (ADR 0019).
  const locked = needsSpendLease(deps.config.spend);
  const mayRent =
    !locked ||
    (await takeSpendLease(counted.store, {
      owner,
      clock: deps.clock,
      ttlMs: deps.config.podLeaseMs,
      waitMs: SPEND_LEASE_WAIT_MS,
      deadline: options.deadline,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }));
  try {
    return await passWith(deps, counted, calls, { options, observeOptions, owner, mayRent, started });
  } finally {
    if (locked && mayRent) await counted.store.releaseLease(SPEND_LEASE, owner);
  }
}

/** How long a pass waits for another pass's rents before it rents nothing itself. */
const SPEND_LEASE_WAIT_MS = 5_000;

async function passWith(
  deps: PassDeps,
  counted: PassDeps,
  calls: CallCounts,
  run: {
    options: PassOptions;
    observeOptions: Parameters<typeof observe>[1];
    owner: string;
    mayRent: boolean;
    started: number;
  },
): Promise<PassSummary> {
  const { options, observeOptions, owner, started } = run;
  const { observed, errors } = await observe(counted, observeOptions);
  const wanted = offersWanted(observed, counted);
  const full = wanted.length > 0 ? await observeOffers(counted, observed, wanted, observeOptions) : observed;
  const plans = plan(full, counted);
  const pods = new Map(full.pods.map((p) => [p.view.uid, p]));
  const result = await execute(counted, plans, pods, {
    now: options.now,
    deadline: options.deadline,
    owner,
    ...(run.mayRent ? {} : { mayRent: false }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  });
  // Credentials are swept on full passes only: a per-pod pass does not see the other pods.
  const swept = options.podUid === undefined ? await sweepCredentials(counted, full, options) : [];
  const forwarded = await forwarders(counted, full, options);
  const labels: Partial<Record<PlanLabel, number>> = {};
  for (const p of plans) labels[p.label] = (labels[p.label] ?? 0) + 1;
  return {
    pods: full.pods.length,
    plans: labels,
    executed: result.executed,
    skipped: result.skipped,
    statusWrites: result.statusWrites,
    events: result.events,
    offerListings: wanted.length,
    providersDown: [...full.providersDown],
    errors: [...errors, ...result.errors, ...swept, ...(forwarded?.errors ?? [])],
    ...spendReport(full, plans, deps.config.spend),
    ...(forwarded === undefined ? {} : { forwarders: forwarded.counts }),
    calls,
    durationMs: deps.clock() - started,
  };
}

/**
 * What providers keep for our pods besides instances (RunPod registry credentials, ADR 0016)
 * goes once no instance uses it: garbage collection, like tagged instances, on full passes. A
 * provider that is down is left for a later pass.
 */
async function sweepCredentials(
  deps: PassDeps,
  observed: Observed,
  options: PassOptions,
): Promise<PassError[]> {
  const errors: PassError[] = [];
  for (const [name, provider] of Object.entries(deps.providers) as [ProviderName, Provider][]) {
    if (provider.sweepCredentials === undefined || observed.providersDown.includes(name)) continue;
    if (deps.clock() >= options.deadline) break;
    try {
      await provider.sweepCredentials({
        deadline: options.deadline,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      errors.push(passError(`sweep ${name} registry credentials`, error));
    }
  }
  return errors;
}

/**
 * Forwarder pods (ADR 0024), after the pass's own work, like sweepCredentials: every failure
 * is in the errors, nothing is thrown. The pods are as observed at the start of the pass (a
 * machine rented now gets its forwarder next pass, well before it boots). Garbage collection
 * of forwarders whose pod is gone needs every pod listed: only full passes whose node lists
 * all answered.
 */
async function forwarders(
  deps: PassDeps,
  observed: Observed,
  options: PassOptions,
): Promise<{ counts: NonNullable<PassSummary['forwarders']>; errors: PassError[] } | undefined> {
  const config = deps.config.forwarding;
  if (config === undefined || deps.clock() >= options.deadline) return undefined;
  const full = options.podUid === undefined && (observed.podsUnlisted ?? []).length === 0;
  const pods: ForwardCandidate[] = observed.pods.map((op) => ({ view: op.view, launched: launched(op) }));
  const sync = await syncForwarders(deps.cluster, config, pods, { now: options.now, full });
  return {
    counts: { created: sync.created.length, deleted: sync.deleted.length, addressed: sync.addressed.length },
    errors: sync.errors,
  };
}

/**
 * An attempt is live from its intent until it ends: creating (the create may be in flight),
 * starting, running, and releasing (the next attempt follows, so the forwarder and its
 * address stay).
 */
function launched(op: ObservedPod): boolean {
  const stage = op.record?.stage;
  return stage === 'creating' || stage === 'starting' || stage === 'running' || stage === 'releasing';
}

function countedDeps(deps: PassDeps, calls: CallCounts): PassDeps {
  const providers: Partial<Record<ProviderName, Provider>> = {};
  for (const [name, provider] of Object.entries(deps.providers) as [ProviderName, Provider][]) {
    providers[name] = counting(provider, name, calls);
  }
  return {
    ...deps,
    store: counting(deps.store, 'store', calls),
    cluster: counting(deps.cluster, 'kube', calls),
    providers,
  };
}

function spendReport(
  observed: Observed,
  plans: readonly PodPlan[],
  limits: SpendLimits | undefined,
): Pick<PassSummary, 'spendLimits'> {
  if (limits === undefined) return {};
  const uses = limitUses(currentSpend({ ...observed, plans, limits }), limits);
  return uses.length === 0 ? {} : { spendLimits: uses };
}
