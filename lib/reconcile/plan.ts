import { podAdvisories } from '../kube/pod-advisories.ts';
import type { Instance } from '../providers/provider.ts';
import type { PodRecord, PodWrite } from '../state/store.ts';
import { events } from './events.ts';
import { INIT_FAILED } from './init-runs.ts';
import {
  agentGaveUp,
  basePlan,
  change,
  EVICTED,
  instanceIds,
  type OfferRequest,
  type PlanEnv,
  type PlanOptions,
  planEnv,
} from './plan-env.ts';
import { planFinished, planReleasing, planRunning, planStarting } from './plan-instance.ts';
import { planCreating, planPending } from './plan-provision.ts';
import { release } from './plan-release.ts';
import { applySpendLimits } from './plan-spend.ts';
import { currentProvisionedMessage, UNKNOWN_EXIT } from './status.ts';
import type { Observed, ObservedPod, PodPlan, Situation } from './types.ts';

export type { OfferRequest, PlanOptions } from './plan-env.ts';

/**
 * The decision of a pass, pure: observed snapshot → one plan per pod and per orphan
 * (DESIGN §4). Nothing here reads a clock, a store or an API; running it twice on the same
 * snapshot gives the same plans, which is what makes a pass idempotent.
 */
export function plan(observed: Observed, options: PlanOptions): PodPlan[] {
  const env = planEnv(observed, options);
  const plans = observed.pods.map((op) => planPod(op, env));
  for (const orphan of observed.orphanRecords) plans.push(planOrphanRecord(orphan, env));
  for (const instance of observed.orphanInstances) {
    const gc = planOrphanInstance(instance, env);
    if (gc !== undefined) plans.push(gc);
  }
  const { spend: limits, maxCandidatesPerPass: tries } = options.config;
  return applySpendLimits(observed, plans, { limits, tries });
}

/** The requirement sets whose offers the plan will consult (observe lists each once). */
export function offersWanted(observed: Observed, options: PlanOptions): OfferRequest[] {
  const wanted = new Map<string, OfferRequest>();
  const env = planEnv(observed, options, wanted);
  for (const op of observed.pods) planPod(op, env);
  return [...wanted.values()];
}

export function planPod(op: ObservedPod, env: PlanEnv): PodPlan {
  const plan = planPodOnce(op, env);
  const warnings = firstSightWarnings(op);
  return warnings.length === 0 ? plan : { ...plan, events: [...warnings, ...plan.events] };
}

function planPodOnce(op: ObservedPod, env: PlanEnv): PodPlan {
  if (op.view.deletionTimestamp !== undefined) return planDeletion(op, env);
  // Provider down: its instances are unknown, so nothing is decided and nothing reported (no flapping).
  if (op.instances === undefined) return basePlan(op, 'wait');
  const record = op.record;
  const advised = advisories(op);
  if (advised !== undefined) return advised;
  const pending = (record?.stage ?? 'pending') === 'pending';
  if (pending && op.envError !== undefined && op.requirements.ok) return configHeld(op, op.envError);
  if (pending && op.mountError !== undefined && op.requirements.ok) return mountHeld(op, op.mountError);
  const deadline = deadlineExceeded(op, env) ?? evicted(op, env);
  if (deadline !== undefined) return deadline;
  switch (record?.stage ?? 'pending') {
    case 'pending':
      return planPending(op, env);
    case 'creating':
      return planCreating(op, env, record as PodRecord);
    case 'starting':
      return planStarting(op, env, record as PodRecord);
    case 'running':
      return planRunning(op, env, record as PodRecord);
    case 'releasing':
      return planReleasing(op, env, record as PodRecord);
    case 'finished':
      return planFinished(op, env);
    case 'terminating':
      return basePlan(op, 'wait');
  }
}

/**
 * What anex tells the user about a pod it cannot fix itself (lib/kube/pod-advisories.ts),
 * once: with the pod's first status. A DaemonSet's pod is never rented for (ADR 0013): it
 * stays Pending with the reason; any other pod goes on to be planned, with the warning.
 */
function advisories(op: ObservedPod): PodPlan | undefined {
  if (op.record !== undefined) return undefined;
  const advice = podAdvisories(op.view);
  const firstSight = currentProvisionedMessage(op.view.status) === undefined;
  if (advice.neverRent) {
    const message = advice.events[0]?.message ?? 'anex runs no DaemonSet pods';
    return {
      ...basePlan(op, 'report'),
      situation: { kind: 'held', reason: 'DaemonSetPodNotRun', message },
      events: firstSight ? advice.events : [],
    };
  }
  return undefined;
}

/**
 * kubelet's CreateContainerConfigError: the pod's env needs a Secret, ConfigMap or key that is
 * not there. Nothing is rented; the pod waits (each pass looks again) and says what is
 * missing, with one event per new message.
 */
function configHeld(op: ObservedPod, message: string): PodPlan {
  const shown = op.view.status?.containerStatuses?.[0]?.state;
  const already = shown !== undefined && 'waiting' in shown && shown.waiting.message === message;
  return {
    ...basePlan(op, 'report'),
    situation: { kind: 'held', reason: 'CreateContainerConfigError', message },
    events: already ? [] : [events.configError(message)],
  };
}

/** Like kubelet while a volume cannot be set up: ContainerCreating, with FailedMount events. */
function mountHeld(op: ObservedPod, message: string): PodPlan {
  const shown = op.view.status?.containerStatuses?.[0]?.state;
  const already = shown !== undefined && 'waiting' in shown && shown.waiting.message === message;
  return {
    ...basePlan(op, 'report'),
    situation: { kind: 'held', reason: 'ContainerCreating', message },
    events: already ? [] : [events.mountFailed(message)],
  };
}

/** The advisories' warnings for a pod anex is about to handle, with its first status only. */
function firstSightWarnings(op: ObservedPod): PodPlan['events'] {
  if (op.record !== undefined || op.view.deletionTimestamp !== undefined) return [];
  if (currentProvisionedMessage(op.view.status) !== undefined) return [];
  const advice = podAdvisories(op.view);
  return advice.neverRent ? [] : advice.events;
}

/**
 * spec.activeDeadlineSeconds, as kubelet enforces it (pkg/kubelet/active_deadline.go): once
 * the pod has been active that long since its startTime it fails with DeadlineExceeded,
 * whatever its restartPolicy, and its machine is destroyed.
 */
/**
 * The agent ended the pod itself: it evicted it (kubelet's eviction manager's words), or an
 * init container failed under restartPolicy Never. The pod fails; the machine goes.
 */
function evicted(op: ObservedPod, env: PlanEnv): PodPlan | undefined {
  const record = op.record;
  const reason = record?.failureReason;
  if (reason !== EVICTED && reason !== INIT_FAILED) return undefined;
  // A create in flight is settled first (adopted), so nothing it rents is left behind.
  if (record === undefined || (record.stage !== 'starting' && record.stage !== 'running')) return undefined;
  const message =
    record.lastError ?? (reason === EVICTED ? 'The pod was evicted' : 'An init container failed');
  return release(op, env, {
    reason: message,
    counts: true,
    ban: false,
    extras: [],
    events: [reason === EVICTED ? events.evicted(message) : events.initFailed(message)],
    terminal: reason,
  });
}

function deadlineExceeded(op: ObservedPod, env: PlanEnv): PodPlan | undefined {
  const seconds = op.view.activeDeadlineSeconds;
  const start = Date.parse(op.view.status?.startTime ?? '');
  const stage = op.record?.stage ?? 'pending';
  // A create in flight is settled first (adopted or given up), so nothing it rents is left behind.
  if (
    seconds === undefined ||
    !Number.isFinite(start) ||
    ['finished', 'terminating', 'creating'].includes(stage)
  )
    return undefined;
  if (env.now - start < seconds * 1000) return undefined;
  return release(op, env, {
    reason: 'Pod was active on the node longer than the specified deadline',
    counts: true,
    ban: false,
    extras: [],
    events: [events.deadlineExceeded(seconds)],
    terminal: 'DeadlineExceeded',
  });
}

/**
 * Deletion, as kubelet does it: the agent is told to stop (pod-alive answers `alive: false`
 * with the grace left: preStop, SIGTERM, SIGKILL at the end of the grace) and reports the exit
 * code; then every instance of the pod is destroyed, the terminal phase is written (Jobs with
 * a podFailurePolicy read it) and the pod is deleted with grace 0. An agent that cannot be
 * reached gets until the end of the grace period plus a margin, then the machine is destroyed
 * anyway. While a create's outcome is unknown, or the provider cannot be listed, the pod
 * waits in Terminating rather than risk a leaked instance.
 */
function planDeletion(op: ObservedPod, env: PlanEnv): PodPlan {
  const record = op.record;
  const base = basePlan(op, 'terminate');
  const intentAt = record?.stage === 'creating' ? record.intent?.at : undefined;
  const creating = intentAt !== undefined && env.now - intentAt < env.config.createLagMs;
  const mayHaveInstance = record?.instance !== undefined || record?.stage === 'creating';
  if (creating || (op.instances === undefined && mayHaveInstance)) return { ...base, label: 'wait' };
  if (agentStopping(op, env)) return { ...base, label: 'wait' };
  const destroy = instanceIds(op.instances, record);
  const plan: PodPlan = { ...base, destroy, finalize: true };
  if (record !== undefined) plan.after = 'delete';
  if (record !== undefined && destroy.length > 0) {
    // The attempt ends here: its credentials go with this write, its key right after (ADR 0021).
    plan.before = change(toWriteOf(record), { stage: 'terminating' }, ['agentToken', 'statusCredentialHash']);
    if (record.vpnAddress !== undefined) plan.revokePeer = record.vpnAddress;
  }
  if (record?.vpnAddress !== undefined) plan.releaseAddress = record.vpnAddress;
  const ended = deletedOutcome(record, env);
  if (ended !== undefined) plan.situation = ended;
  return plan;
}

/**
 * True while the agent may still be stopping the workload gracefully: it bootstrapped on a
 * machine that is up, started the workload, has not reported the final exit, and the grace (deletionTimestamp is
 * its end) plus the margin for its next pod-alive question and report has not passed.
 */
function agentStopping(op: ObservedPod, env: PlanEnv): boolean {
  const record = op.record;
  if (record?.launch !== 'agent' || record.statusCredentialHash === undefined) return false;
  if ((record.stage !== 'running' && record.stage !== 'starting') || record.exitCode !== undefined)
    return false;
  if (agentGaveUp(record)) return false;
  // No workload started yet (the agent is still bringing up its tunnel): nothing to stop gracefully.
  if (record.startedAt === undefined) return false;
  const instance = op.instances?.find((i) => i.id === record.instance?.id);
  if (instance === undefined || (instance.state.phase !== 'running' && instance.state.phase !== 'starting'))
    return false;
  const end = Date.parse(op.view.deletionTimestamp ?? '');
  return Number.isFinite(end) && env.now < end + env.config.stopMarginMs;
}

/**
 * The terminal status written before a deleted pod is removed, when its container ran: the
 * exit code the agent reported, or kubelet's ContainerStatusUnknown when it never did.
 */
function deletedOutcome(record: PodRecord | undefined, env: PlanEnv): Situation | undefined {
  if (record === undefined || record.startedAt === undefined || record.stage === 'finished') return undefined;
  const known = record.exitCode !== undefined;
  return {
    kind: 'terminated',
    exitCode: record.exitCode ?? UNKNOWN_EXIT.code,
    startedAt: record.startedAt,
    finishedAt: env.now,
    ...(known ? {} : { message: 'The container could not be located when the pod was terminated' }),
  };
}

/** A record whose pod left Kubernetes without us (force delete): destroy what it rented, then forget it. */
function planOrphanRecord(orphan: Observed['orphanRecords'][number], env: PlanEnv): PodPlan {
  const { record, instances } = orphan;
  const ref = { namespace: record.namespace, name: record.name, uid: record.podUid };
  const base: PodPlan = {
    podUid: record.podUid,
    provider: record.provider,
    orphanOf: ref,
    expectedVersion: record.version,
    destroy: [],
    events: [],
    label: 'gc-record',
  };
  const intentAt = record.stage === 'creating' ? record.intent?.at : undefined;
  const creating = intentAt !== undefined && env.now - intentAt < env.config.createLagMs;
  const mayHaveInstance = record.instance !== undefined || record.stage === 'creating';
  if (creating || (instances === undefined && mayHaveInstance)) return { ...base, label: 'wait' };
  const plan: PodPlan = { ...base, destroy: instanceIds(instances, record), after: 'delete' };
  if (record.vpnAddress !== undefined) plan.releaseAddress = record.vpnAddress;
  return plan;
}

/** A tagged instance nobody owns: destroyed once older than the grace (a create may be in flight elsewhere). */
function planOrphanInstance(instance: Instance, env: PlanEnv): PodPlan | undefined {
  const podUid = instance.tag?.podUid;
  if (podUid === undefined) return undefined;
  if (instance.createdAt !== undefined && env.now - instance.createdAt < env.config.gcGraceMs)
    return undefined;
  return {
    podUid,
    provider: instance.provider,
    expectedVersion: undefined,
    destroy: [instance.id],
    events: [],
    label: 'gc-instance',
  };
}

function toWriteOf(record: PodRecord): PodWrite {
  const { version: _version, updatedAt: _updatedAt, ...write } = record;
  return write;
}
