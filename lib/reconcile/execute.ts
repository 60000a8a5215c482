import type { PodEvent } from '../kube/cluster.ts';
import type { ProviderName } from '../offers/offer.ts';
import type { CallOptions, Provider } from '../providers/provider.ts';
import type { PodRecord } from '../state/store.ts';
import type { ReconcileConfig } from './config.ts';
import { type ProvisionDeps, provision } from './execute-provision.ts';
import type { ImageGate } from './image-gate.ts';
import type { LaunchBuilder } from './launch.ts';
import type { ObserveDeps } from './observe.ts';
import { type PassError, passError } from './pass-errors.ts';
import { buildStatus, runView, sameStatus } from './status.ts';
import type { ObservedPod, PodPlan, Situation } from './types.ts';

export interface ExecuteDeps extends ObserveDeps {
  launch: LaunchBuilder;
  /** the pre-rent image check (lib/images); unset: none */
  images?: ImageGate;
  /** wall clock for deadlines and write times (the pass's `now` stays the decision time) */
  clock: () => number;
}

export interface ExecuteOptions {
  now: number;
  /** epoch ms: no pod's work is started after it */
  deadline: number;
  signal?: AbortSignal;
  /** lease owner for this pass */
  owner: string;
  /** pods worked on at once */
  concurrency?: number;
  /**
   * false: another pass holds the spend lease (lib/reconcile/spend-lease.ts), so this pass
   * rents nothing; a pod's other steps run as usual. Absent: renting is allowed.
   */
  mayRent?: boolean;
}

export type SkipReason = 'deadline' | 'busy' | 'moved' | 'pod-exists' | 'provider-blocked';

export interface ExecuteResult {
  executed: number;
  skipped: Record<SkipReason, number>;
  statusWrites: number;
  events: number;
  errors: PassError[];
}

interface Shared {
  deps: ExecuteDeps;
  options: ExecuteOptions;
  pods: ReadonlyMap<string, ObservedPod>;
  result: ExecuteResult;
  blocked: Set<ProviderName>;
  /** offers a pod of this pass is renting (`<provider>/<offer id>`) */
  claimed: Set<string>;
}

/**
 * Carries out the plans. Each pod is isolated: its failure is recorded and the pass goes
 * on. A plan with effects runs under the pod's lease (`pod/<uid>`, a conditional write) and
 * only if the record still has the version the plan saw — so concurrent passes never act
 * twice on one pod. Steps run in the order documented on {@link PodPlan}.
 */
export async function execute(
  deps: ExecuteDeps,
  plans: readonly PodPlan[],
  pods: ReadonlyMap<string, ObservedPod>,
  options: ExecuteOptions,
): Promise<ExecuteResult> {
  const result: ExecuteResult = {
    executed: 0,
    skipped: { deadline: 0, busy: 0, moved: 0, 'pod-exists': 0, 'provider-blocked': 0 },
    statusWrites: 0,
    events: 0,
    errors: [],
  };
  const shared: Shared = { deps, options, pods, result, blocked: new Set(), claimed: new Set() };
  // Destroys first: a destroy refused last pass (a rate limit, an outage) is still owed and
  // bills until it goes through, so it never waits behind this pass's creates.
  const queue = [...plans].sort((a, b) => Number(b.destroy.length > 0) - Number(a.destroy.length > 0));
  const worker = async () => {
    for (let plan = queue.shift(); plan !== undefined; plan = queue.shift()) {
      if (deps.clock() >= options.deadline || options.signal?.aborted) {
        result.skipped.deadline += 1;
        continue;
      }
      try {
        await executePlan(shared, plan);
      } catch (error) {
        result.errors.push(
          passError(`${plan.label} pod ${plan.pod?.namespace ?? ''}/${plan.pod?.name ?? plan.podUid}`, error),
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  return result;
}

function hasEffects(plan: PodPlan): boolean {
  return (
    plan.before !== undefined ||
    plan.ban !== undefined ||
    plan.destroy.length > 0 ||
    plan.after !== undefined ||
    plan.revokePeer !== undefined ||
    plan.releaseAddress !== undefined ||
    plan.finalize === true ||
    plan.annotate !== undefined ||
    plan.provision !== undefined
  );
}

async function executePlan(shared: Shared, plan: PodPlan): Promise<void> {
  if (!hasEffects(plan)) {
    await report(shared, plan, plan.situation, plan.events, shared.pods.get(plan.podUid)?.record);
    return;
  }
  const { store } = shared.deps;
  const lease = `pod/${plan.podUid}`;
  const { owner } = shared.options;
  if (
    !(await store.acquireLease(lease, owner, {
      now: shared.deps.clock(),
      ttlMs: shared.deps.config.podLeaseMs,
    }))
  ) {
    shared.result.skipped.busy += 1;
    return;
  }
  try {
    const current = await store.getPod(plan.podUid);
    if (current?.version !== plan.expectedVersion) {
      shared.result.skipped.moved += 1;
      return;
    }
    if (plan.orphanOf !== undefined) {
      const pod = await shared.deps.cluster.getPod(plan.orphanOf.namespace, plan.orphanOf.name);
      if (pod?.uid === plan.orphanOf.uid) {
        shared.result.skipped['pod-exists'] += 1;
        return;
      }
    }
    shared.result.executed += 1;
    await runSteps(shared, plan, current);
  } finally {
    await store.releaseLease(lease, owner);
  }
}

async function runSteps(shared: Shared, plan: PodPlan, current: PodRecord | undefined): Promise<void> {
  const { store } = shared.deps;
  const provider = shared.deps.providers[plan.provider];
  const call = callOptions(shared.options);
  const at = () => ({ now: shared.deps.clock() });
  let record = current;
  let said: PodEvent[] = [...plan.events];
  if (plan.before !== undefined) {
    record = await store.putPod(plan.before, { expectedVersion: record?.version, ...at() });
    // The decision is durable now: say why before the steps that may fail (a destroy refused
    // by a rate limit) — the next pass resumes from `before` and would never say it again.
    await sayEarly(shared, plan, said);
    said = [];
  }
  // The attempt ended with that write: its key leaves the gateway's peer set before anything
  // else (a destroy may fail and wait for the next pass; the key must not wait with it).
  if (plan.revokePeer !== undefined) await store.clearPeerKey(plan.revokePeer, plan.podUid);
  if (plan.ban !== undefined) await store.putBan(plan.ban);
  if (plan.destroy.length > 0 && provider === undefined)
    throw new Error(`no provider ${plan.provider} configured`);
  // All destroys must be confirmed before the record moves on: never rent again while the last one may bill.
  for (const id of plan.destroy) await provider?.destroy(id, call);
  if (plan.after === 'delete') {
    await store.deletePod(plan.podUid);
    record = undefined;
  } else if (plan.after !== undefined) {
    record = await store.putPod(plan.after, { expectedVersion: record?.version, ...at() });
  }
  await afterRecord(shared, plan);
  if (plan.finalize === true && plan.pod !== undefined) {
    // The terminal status first (a Job's podFailurePolicy reads it), then the pod goes.
    await report(shared, plan, plan.situation, said, current);
    await shared.deps.cluster.finalizePod(plan.pod);
    return;
  }
  let situation = plan.situation;
  if (plan.provision !== undefined && provider !== undefined) {
    const held = rentHeldBy(shared, plan);
    if (held !== undefined) {
      // Not this pass: the pod's status stays as it is and the next pass rents it.
      shared.result.skipped[held] += 1;
      await report(shared, plan, undefined, said, record);
      return;
    }
    const outcome = await provision(provisionDeps(shared, provider), {
      plan: plan.provision,
      version: record?.version,
      call,
      deadline: shared.options.deadline,
    });
    record = outcome.record ?? record;
    situation = outcome.situation;
    said = [...said, ...outcome.events];
    if (outcome.error !== undefined) shared.result.errors.push(outcome.error);
    if (outcome.blockProvider === true) shared.blocked.add(plan.provider);
  }
  await report(shared, plan, situation, said, record);
}

/** Why this pass may not rent for `plan` (another pass holds the spend lease, the provider refused), if so. */
function rentHeldBy(shared: Shared, plan: PodPlan): 'busy' | 'provider-blocked' | undefined {
  if (shared.options.mayRent === false) return 'busy';
  return shared.blocked.has(plan.provider) ? 'provider-blocked' : undefined;
}

/**
 * How long an offer stays with the pod that tried it first: long enough for its create to be
 * answered; an offer still listed after that is fair game again.
 */
const OFFER_CLAIM_MS = 2 * 60_000;

/** The steps after the record write: the ended attempt's key again, the address, the pod's annotations. */
async function afterRecord(shared: Shared, plan: PodPlan): Promise<void> {
  const { store, cluster } = shared.deps;
  // Again: a bootstrap that passed its checks before the attempt ended may have set it since.
  if (plan.revokePeer !== undefined && plan.after !== undefined)
    await store.clearPeerKey(plan.revokePeer, plan.podUid);
  if (plan.releaseAddress !== undefined) await store.releaseAddress(plan.releaseAddress, plan.podUid);
  if (plan.annotate !== undefined && plan.pod !== undefined)
    await cluster.annotatePod(plan.pod, plan.annotate);
}

function provisionDeps(shared: Shared, provider: Provider): ProvisionDeps {
  const { deps } = shared;
  return {
    store: deps.store,
    provider,
    config: deps.config,
    launch: deps.launch,
    clock: deps.clock,
    ...(deps.images === undefined ? {} : { images: deps.images }),
    claim: async (offer, podUid) => {
      // By machine where offers name one: a machine's asks share its GPUs (Vast lists a host
      // whole and in slices), so renting one takes the others off the market.
      const key =
        offer.machineId === undefined
          ? `${offer.provider}/${offer.offerId}`
          : `${offer.provider}/m${offer.machineId}`;
      if (shared.claimed.has(key)) return false;
      shared.claimed.add(key);
      // Passes running at once (the tick and pod-events Lambdas) claim through the table.
      return deps.store.acquireLease(`offer/${key}`, podUid, { now: deps.clock(), ttlMs: OFFER_CLAIM_MS });
    },
  };
}

/**
 * The plan's events once its first record write has landed. A failure to record one is an error
 * of the pass, not of the plan: the destroy that follows must still run.
 */
async function sayEarly(shared: Shared, plan: PodPlan, said: readonly PodEvent[]): Promise<void> {
  try {
    await report(shared, plan, undefined, said, undefined);
  } catch (error) {
    shared.result.errors.push(
      passError(`record events for pod ${plan.pod?.namespace ?? ''}/${plan.pod?.name ?? plan.podUid}`, error),
    );
  }
}

/** Events first, then the status — written only when it differs from what the pod shows. */
async function report(
  shared: Shared,
  plan: PodPlan,
  situation: Situation | undefined,
  said: readonly PodEvent[],
  record: PodRecord | undefined,
): Promise<void> {
  const pod = plan.pod;
  const view = pod && shared.pods.get(pod.uid)?.view;
  if (pod === undefined || view === undefined) return;
  const { cluster } = shared.deps;
  for (const event of said) {
    await cluster.recordEvent(pod, event, { now: shared.deps.clock() });
    shared.result.events += 1;
  }
  if (situation === undefined) return;
  const status = buildStatus({
    pod: view,
    situation,
    now: shared.options.now,
    ...vpnPodIP(shared.deps.config, record),
    ...(hostIP(situation) === undefined ? {} : { hostIP: hostIP(situation) as string }),
    ...(record === undefined ? {} : { run: runView(record) }),
  });
  if (sameStatus(view.status, status)) return;
  await cluster.updatePodStatus(pod, status);
  shared.result.statusWrites += 1;
}

/**
 * The VPN address as podIP, unless forwarders give pods their cluster address (ADR 0024:
 * lib/reconcile/forwarders.ts writes that, and nothing else may overwrite it).
 */
function vpnPodIP(config: ReconcileConfig, record: PodRecord | undefined): { podIP?: string } {
  if (config.forwarding !== undefined || record?.vpnAddress === undefined) return {};
  return { podIP: record.vpnAddress };
}

function hostIP(situation: Situation): string | undefined {
  return situation.kind === 'running' || situation.kind === 'starting' ? situation.hostIP : undefined;
}

function callOptions(options: ExecuteOptions): CallOptions {
  return { deadline: options.deadline, ...(options.signal === undefined ? {} : { signal: options.signal }) };
}
