import type { PodEvent } from '../kube/cluster.ts';
import type { Ban, PodWrite } from '../state/store.ts';
import { events } from './events.ts';
import { backOffFields, backOffReason, backOffSituation } from './plan-backoff.ts';
import { basePlan, change, currentWrite, instanceIds, type PlanEnv } from './plan-env.ts';
import { provisionOrReport } from './plan-provision.ts';
import { DEFAULT_OFFER_COOLDOWN_MS, GPU_COOLDOWN_PREFIX, gpuCooldownKey, offerCooldownKey } from './rules.ts';
import type { ObservedPod, PodPlan, Situation } from './types.ts';

/**
 * Ending an attempt (DESIGN §4, providers.md §7.6): destroy the instance — and ban its
 * machine when the machine is to blame — before anything else is rented; then either rent
 * the next candidate or settle the pod's outcome.
 */
export interface ReleaseOptions {
  /** worded for the user: what went wrong, on which machine */
  reason: string;
  /** whether this attempt counts toward maxAttempts (it was counted when the instance was created) */
  counts: boolean;
  ban: boolean;
  extras: string[];
  events: PodEvent[];
  /** stop after destroying: the pod fails with this reason */
  terminal?: string;
}

/**
 * What ends with an attempt, in the record write that ends it (ADR 0021): its bootstrap token
 * and its status credential, so neither works for a later attempt; the plan's `revokePeer`
 * takes its key out of the gateway's peer set.
 */
export const ATTEMPT_CREDENTIALS = ['agentToken', 'statusCredentialHash'] as const;

/** The address whose key goes with the attempt ({@link PodPlan.revokePeer}), when the pod has one. */
export function revokePeer(record: PodWrite): Pick<PodPlan, 'revokePeer'> {
  return record.vpnAddress === undefined ? {} : { revokePeer: record.vpnAddress };
}

/** Destroy the attempt's instance (ban its machine if asked), then rent the next candidate or give up. */
export function release(op: ObservedPod, env: PlanEnv, options: ReleaseOptions): PodPlan {
  const from = currentWrite(op);
  const attempts = options.counts ? from.attempts : Math.max(0, from.attempts - 1);
  const exhausted = options.terminal === undefined && attempts >= env.config.maxAttempts;
  const failureReason = options.terminal ?? (exhausted ? 'ProvisioningFailed' : undefined);
  const lastError = exhausted
    ? `Gave up after ${attempts} provisioning attempts; last error: ${options.reason}`
    : options.reason;
  // Under restartPolicy Always/OnFailure a start problem backs off instead of failing the pod.
  const retried = backOffReason(op, failureReason);
  const settled =
    failureReason === undefined
      ? {}
      : retried === undefined
        ? { failureReason, finishedAt: env.now }
        : { failureReason, ...backOffFields(from, env) };
  const before = change(from, { stage: 'releasing', attempts, lastError, ...settled }, [
    'exitCode',
    ...ATTEMPT_CREDENTIALS,
  ]);
  const ban = options.ban ? banFor(op, env, options.reason) : undefined;
  const next = afterRelease(op, env, before, instanceIds(op.instances, op.record), ban);
  const said = [
    ...options.events,
    events.attemptFailed(
      options.reason,
      failureReason === undefined || retried !== undefined ? 'retry' : 'give-up',
    ),
    ...(ban === undefined ? [] : [events.machineBanned(ban.machineId, ban.expiresAt, options.reason)]),
    ...(exhausted ? [events.gaveUp(lastError)] : []),
  ];
  return { ...next, before, ...(ban === undefined ? {} : { ban }), events: [...said, ...next.events] };
}

/** Once the instance is destroyed: finished when the outcome is decided (finishedAt), else back to renting. */
export function afterRelease(
  op: ObservedPod,
  env: PlanEnv,
  releasing: PodWrite,
  destroy: string[],
  ban?: Ban,
): PodPlan {
  if (releasing.finishedAt !== undefined) {
    // Terminal: the key goes and so does the address (the range is not held by finished pods).
    const after = change(releasing, { stage: 'finished' }, ['instance', 'intent', ...ATTEMPT_CREDENTIALS]);
    return {
      ...basePlan(op, 'finish'),
      destroy,
      after,
      ...revokePeer(releasing),
      ...(releasing.vpnAddress === undefined ? {} : { releaseAddress: releasing.vpnAddress }),
      situation: finishedSituation(after, env.now),
    };
  }
  // The next attempt's agent bootstraps anew: the old credentials (and what they proved) go.
  const after = change(releasing, { stage: 'pending' }, [
    'instance',
    'intent',
    ...ATTEMPT_CREDENTIALS,
    'initRuns',
  ]);
  const reason = backOffReason(op, releasing.failureReason);
  if (reason !== undefined && releasing.retryAt !== undefined && env.now < releasing.retryAt) {
    // Backing off: nothing is rented until the wait is over.
    const situation = backOffSituation(reason, after);
    const message = situation.kind === 'held' ? situation.message : '';
    return {
      ...basePlan(op, 'release'),
      destroy,
      after,
      ...revokePeer(releasing),
      situation,
      events: [events.retryBackOff(message)],
    };
  }
  const cooledGpu = ban?.machineId.startsWith(GPU_COOLDOWN_PREFIX)
    ? ban.machineId.slice(GPU_COOLDOWN_PREFIX.length)
    : undefined;
  const next = provisionOrReport(op, env, after, {
    machineId: releasing.instance?.machineId,
    offerId: releasing.intent?.offerId,
    gpuName: cooledGpu,
  });
  return {
    ...next,
    destroy,
    ...revokePeer(releasing),
    label: next.label === 'provision' ? 'provision' : 'release',
  };
}

export function finishedSituation(record: PodWrite, now: number): Situation {
  if (record.exitCode !== undefined) {
    return {
      kind: 'terminated',
      exitCode: record.exitCode,
      finishedAt: record.finishedAt ?? now,
      ...(record.startedAt === undefined ? {} : { startedAt: record.startedAt }),
      ...(record.lastError === undefined ? {} : { message: record.lastError }),
    };
  }
  const message = record.lastError ?? 'The pod failed';
  return {
    kind: 'failed',
    reason: record.failureReason ?? 'Failed',
    message,
    // The machine was lost under the running container: a disruption, not the workload's fault.
    ...(record.failureReason === LOST_REASON ? { disruption: message } : {}),
  };
}

/** failureReason of a pod whose machine was lost while its container ran (restartPolicy Never). */
export const LOST_REASON = 'InstanceLost';

/**
 * A machine ban where the provider rents machines (Vast). Elsewhere (RunPod) a cooldown in
 * the same ban store: the failed offer's scope (GPU type × cloud × data center), or the GPU
 * type as a whole when it already failed in another scope that is still cooling down.
 */
function banFor(op: ObservedPod, env: PlanEnv, reason: string): Ban | undefined {
  const base = { provider: op.provider, reason, createdAt: env.now };
  if (env.config.machineBans.includes(op.provider)) {
    const machineId = op.record?.instance?.machineId;
    return machineId === undefined
      ? undefined
      : { ...base, machineId, expiresAt: env.now + env.config.banTimeoutMs };
  }
  const intent = op.record?.intent;
  const gpuName = intent?.gpuName ?? op.record?.instance?.gpuName;
  if (intent === undefined || gpuName === undefined) return undefined;
  const expiresAt = env.now + (env.config.offerCooldownMs ?? DEFAULT_OFFER_COOLDOWN_MS);
  const sameGpu = offerCooldownKey(gpuName, '');
  const again = env.bans(op.provider).some((b) => b.expiresAt > env.now && b.machineId.startsWith(sameGpu));
  return {
    ...base,
    machineId: again ? gpuCooldownKey(gpuName) : offerCooldownKey(gpuName, intent.offerId),
    expiresAt,
  };
}
