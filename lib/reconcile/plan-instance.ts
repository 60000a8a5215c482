import type { PodEvent } from '../kube/cluster.ts';
import type { FailureFault, Instance } from '../providers/provider.ts';
import type { Ban, InstanceRecord, PodRecord, PodWrite } from '../state/store.ts';
import { events } from './events.ts';
import { basePlan, change, currentWrite, instanceIds, type PlanEnv } from './plan-env.ts';
import { provisionOrReport } from './plan-provision.ts';
import { UNKNOWN_EXIT } from './status.ts';
import type { ObservedPod, PodPlan, Situation } from './types.ts';

/**
 * Pods with a rented instance: follow it from starting to running to exit, and replace it
 * when it fails (DESIGN §4 "Failure", providers.md §5 classes and §7 rules: host fault or
 * start timeout → destroy, ban the machine, next candidate; image fault → stop; capacity →
 * next candidate, not counted).
 */
export function planStarting(op: ObservedPod, env: PlanEnv, record: PodRecord): PodPlan {
  const recorded = record.instance;
  if (recorded === undefined)
    return provisionOrReport(op, env, change(currentWrite(op), { stage: 'pending' }));
  const { instance, extras } = split(op, recorded.id);
  if (instance === undefined && env.now - recorded.createdAt < env.config.createLagMs) {
    // Reads lag writes: a fresh instance may not be listed yet.
    return waiting(op, extras, `Instance ${recorded.id} is starting`);
  }
  if (instance === undefined || instance.state.phase === 'gone') {
    const reason = `Instance ${recorded.id} disappeared before it started`;
    return release(op, env, { reason, counts: true, ban: false, extras, events: [] });
  }
  const state = instance.state;
  switch (state.phase) {
    case 'running':
      return {
        ...basePlan(op, 'started'),
        destroy: extras,
        after: change(currentWrite(op), { stage: 'running', startedAt: env.now }),
        situation: running(env.now, instance),
        events: [events.started(recorded.id)],
      };
    case 'exited':
      return exited(op, env, state.exitCode, extras);
    case 'failed':
      return failedStart(op, env, { fault: state.fault, detail: state.reason, extras, machine: recorded });
    default: {
      const elapsed = env.now - recorded.createdAt;
      const limit = env.config.startTimeoutMs[op.provider];
      if (elapsed <= limit) {
        const message = `Instance ${recorded.id}${where(recorded)} is starting${state.phase === 'starting' && state.message ? `: ${state.message}` : ''}`;
        return waiting(op, extras, message, instance.publicIp);
      }
      const reason = `Instance ${recorded.id}${where(recorded)} did not start within ${minutes(limit)}`;
      return release(op, env, { reason, counts: true, ban: true, extras, events: [] });
    }
  }
}

export function planRunning(op: ObservedPod, env: PlanEnv, record: PodRecord): PodPlan {
  const recorded = record.instance;
  if (recorded === undefined || record.exitCode !== undefined) return exited(op, env, record.exitCode, []);
  const { instance, extras } = split(op, recorded.id);
  const state = instance?.state ?? { phase: 'gone' as const };
  switch (state.phase) {
    case 'exited':
      return exited(op, env, state.exitCode, extras);
    case 'gone':
      return lost(op, env, { detail: 'disappeared while the container was running', ban: false, extras });
    case 'failed':
      return lost(op, env, {
        detail: `failed while the container was running: ${state.reason}`,
        ban: state.fault === 'host',
        extras,
      });
    default:
      return {
        ...basePlan(op, 'report'),
        destroy: extras,
        situation: running(record.startedAt ?? env.now, instance),
      };
  }
}

/** A release interrupted last pass (crash, destroy failed): finish it. */
export function planReleasing(op: ObservedPod, env: PlanEnv, record: PodRecord): PodPlan {
  return afterRelease(op, env, currentWrite(op), instanceIds(op.instances, record));
}

/** Done: report the outcome; anything still rented for the pod is a leak and is destroyed. */
export function planFinished(op: ObservedPod, env: PlanEnv): PodPlan {
  return {
    ...basePlan(op, 'report'),
    destroy: (op.instances ?? []).map((i) => i.id),
    situation: finishedSituation(currentWrite(op), env.now),
  };
}

interface FailedStart {
  fault: FailureFault;
  detail: string;
  extras: string[];
  machine: InstanceRecord;
}

function failedStart(op: ObservedPod, env: PlanEnv, failure: FailedStart): PodPlan {
  const { fault, detail, extras, machine } = failure;
  const on = `Instance ${machine.id}${where(machine)}`;
  switch (fault) {
    case 'host':
      return release(op, env, {
        reason: `${on} failed to start: ${detail}`,
        counts: true,
        ban: true,
        extras,
        events: [],
      });
    case 'image': {
      const image = op.view.containers[0]?.image ?? 'the image';
      const reason = `${image} could not be pulled or started (${detail}); fix the image name, tag or registry access — no other machine is tried`;
      return release(op, env, {
        reason,
        counts: true,
        ban: false,
        extras,
        events: [],
        terminal: 'ImagePullError',
      });
    }
    case 'capacity':
      return release(op, env, {
        reason: `${on} has no capacity: ${detail}`,
        counts: false,
        ban: false,
        extras,
        events: [],
      });
    case 'unknown':
      return release(op, env, {
        reason: `${on} failed: ${detail}`,
        counts: true,
        ban: false,
        extras,
        events: [],
      });
  }
}

interface ReleaseOptions {
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

/** Destroy the attempt's instance (ban its machine if asked), then rent the next candidate or give up. */
function release(op: ObservedPod, env: PlanEnv, options: ReleaseOptions): PodPlan {
  const from = currentWrite(op);
  const attempts = options.counts ? from.attempts : Math.max(0, from.attempts - 1);
  const exhausted = options.terminal === undefined && attempts >= env.config.maxAttempts;
  const failureReason = options.terminal ?? (exhausted ? 'ProvisioningFailed' : undefined);
  const lastError = exhausted
    ? `Gave up after ${attempts} provisioning attempts; last error: ${options.reason}`
    : options.reason;
  const before = change(
    from,
    {
      stage: 'releasing',
      attempts,
      lastError,
      ...(failureReason === undefined ? {} : { failureReason, finishedAt: env.now }),
    },
    ['exitCode'],
  );
  const ban = options.ban ? banFor(op, env, options.reason) : undefined;
  const next = afterRelease(op, env, before, instanceIds(op.instances, op.record));
  const said = [
    ...options.events,
    events.attemptFailed(options.reason, failureReason === undefined ? 'retry' : 'give-up'),
    ...(ban === undefined ? [] : [events.machineBanned(ban.machineId, ban.expiresAt, options.reason)]),
    ...(exhausted ? [events.gaveUp(lastError)] : []),
  ];
  return { ...next, before, ...(ban === undefined ? {} : { ban }), events: [...said, ...next.events] };
}

/** Once the instance is destroyed: finished when the outcome is decided (finishedAt), else back to renting. */
function afterRelease(op: ObservedPod, env: PlanEnv, releasing: PodWrite, destroy: string[]): PodPlan {
  if (releasing.finishedAt !== undefined) {
    const after = change(releasing, { stage: 'finished' }, ['instance', 'intent']);
    return { ...basePlan(op, 'finish'), destroy, after, situation: finishedSituation(after, env.now) };
  }
  const after = change(releasing, { stage: 'pending' }, ['instance', 'intent']);
  const next = provisionOrReport(op, env, after, {
    machineId: releasing.instance?.machineId,
    offerId: releasing.intent?.offerId,
  });
  return { ...next, destroy, label: next.label === 'provision' ? 'provision' : 'release' };
}

/** The container ended: restart on a new machine if restartPolicy asks for it, else finish with its exit code. */
function exited(op: ObservedPod, env: PlanEnv, exitCode: number | undefined, extras: string[]): PodPlan {
  const from = currentWrite(op);
  const code = exitCode ?? from.exitCode ?? UNKNOWN_EXIT.code;
  const policy = op.view.restartPolicy;
  const restart = policy === 'Always' || (policy === 'OnFailure' && code !== 0);
  const id = from.instance?.id ?? 'unknown';
  const destroy = [...new Set([...instanceIds(op.instances, op.record), ...extras])];
  const said = events.terminated(id, code, restart);
  if (restart) {
    const before = change(
      from,
      {
        stage: 'releasing',
        attempts: 0,
        restarts: (from.restarts ?? 0) + 1,
        lastError: `Container exited with code ${code}`,
      },
      ['exitCode', 'startedAt', 'finishedAt'],
    );
    const next = afterRelease(op, env, before, destroy);
    return { ...next, before, events: [said, ...next.events] };
  }
  const unknown = exitCode === undefined && from.exitCode === undefined;
  const before = change(
    from,
    {
      stage: 'releasing',
      exitCode: code,
      finishedAt: env.now,
      ...(unknown ? { lastError: 'The instance stopped without reporting an exit code' } : {}),
    },
    unknown ? [] : ['lastError'],
  );
  const next = afterRelease(op, env, before, destroy);
  return { ...next, before, events: [said, ...next.events] };
}

interface Lost {
  detail: string;
  ban: boolean;
  extras: string[];
}

/** The machine went away under a running container: Failed for restartPolicy Never, else start over elsewhere. */
function lost(op: ObservedPod, env: PlanEnv, loss: Lost): PodPlan {
  const from = currentWrite(op);
  const id = from.instance?.id ?? 'unknown';
  const reason = `Instance ${id} ${loss.detail}`;
  const gone = events.instanceGone(id, loss.detail);
  if (op.view.restartPolicy === 'Never') {
    return release(op, env, {
      reason,
      counts: true,
      ban: loss.ban,
      extras: loss.extras,
      events: [gone],
      terminal: 'InstanceLost',
    });
  }
  const restarted = {
    ...op,
    record: op.record && { ...op.record, attempts: 0, restarts: (op.record.restarts ?? 0) + 1 },
  };
  return release(restarted, env, {
    reason,
    counts: true,
    ban: loss.ban,
    extras: loss.extras,
    events: [gone],
  });
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
  return {
    kind: 'failed',
    reason: record.failureReason ?? 'Failed',
    message: record.lastError ?? 'The pod failed',
  };
}

function banFor(op: ObservedPod, env: PlanEnv, reason: string): Ban | undefined {
  const machineId = op.record?.instance?.machineId;
  if (machineId === undefined || !env.config.machineBans.includes(op.provider)) return undefined;
  return {
    provider: op.provider,
    machineId,
    expiresAt: env.now + env.config.banTimeoutMs,
    reason,
    createdAt: env.now,
  };
}

function split(op: ObservedPod, id: string): { instance: Instance | undefined; extras: string[] } {
  const all = op.instances ?? [];
  return { instance: all.find((i) => i.id === id), extras: all.filter((i) => i.id !== id).map((i) => i.id) };
}

function waiting(op: ObservedPod, extras: string[], message: string, hostIP?: string): PodPlan {
  const situation: Situation = { kind: 'starting', message, ...(hostIP === undefined ? {} : { hostIP }) };
  return { ...basePlan(op, 'wait'), destroy: extras, situation };
}

function running(startedAt: number, instance: Instance | undefined): Situation {
  const hostIP = instance?.publicIp;
  return { kind: 'running', startedAt, ...(hostIP === undefined ? {} : { hostIP }) };
}

function where(machine: InstanceRecord): string {
  const parts = [
    machine.gpuName,
    machine.machineId === undefined ? undefined : `machine ${machine.machineId}`,
  ];
  const text = parts.filter((p) => p !== undefined).join(', ');
  return text === '' ? '' : ` (${text})`;
}

function minutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}
