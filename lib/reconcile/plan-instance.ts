import type { FailureFault, Instance } from '../providers/provider.ts';
import type { InstanceRecord, PodRecord } from '../state/store.ts';
import { events } from './events.ts';
import { billedAboveMax, withBilledPrice } from './plan-billing.ts';
import { agentGaveUp, basePlan, change, currentWrite, instanceIds, type PlanEnv } from './plan-env.ts';
import { provisionOrReport } from './plan-provision.ts';
import { ATTEMPT_CREDENTIALS, afterRelease, finishedSituation, release } from './plan-release.ts';
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
  const live = instance.state.phase !== 'exited' && instance.state.phase !== 'failed';
  const overMax = live ? billedAboveMax(op, instance) : undefined;
  if (overMax !== undefined) {
    // The machine bills more than it was offered at: a fault of the offer, so it is banned
    // (a cooldown where machines are not) and the attempt counts.
    return release(op, env, {
      reason: overMax,
      counts: true,
      ban: true,
      extras,
      events: [events.billedAboveMax(overMax)],
    });
  }
  return withBilledPrice(startingPlan(op, env, { record, recorded, instance, extras }), op, instance);
}

interface Starting {
  record: PodRecord;
  recorded: InstanceRecord;
  instance: Instance;
  extras: string[];
}

function startingPlan(op: ObservedPod, env: PlanEnv, at: Starting): PodPlan {
  const { record, recorded, instance, extras } = at;
  const state = instance.state;
  // Through the agent, the container starts when the agent says so — possibly while this record
  // was still 'creating' (the report keeps startedAt; adoption carried it here).
  const viaAgent = record.launch === 'agent';
  const agentStarted = viaAgent && record.startedAt !== undefined;
  switch (state.phase) {
    case 'running':
      // Provider "running" is only the machine when the agent launches the container.
      if (viaAgent && !agentStarted) return awaitingAgent(op, env, { machine: recorded, instance, extras });
      return started(op, env, { record, instance, extras });
    case 'exited':
      return endedWhileStarting(op, env, { record, machine: recorded, extras }, state.exitCode);
    case 'failed':
      return failedStart(op, env, { fault: state.fault, detail: state.reason, extras, machine: recorded });
    default: {
      if (agentStarted) return started(op, env, { record, instance, extras });
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

/** The container started: record it and say Running (startedAt: the agent's report if it came first). */
function started(
  op: ObservedPod,
  env: PlanEnv,
  at: { record: PodRecord; instance: Instance; extras: string[] },
): PodPlan {
  const startedAt = at.record.startedAt ?? env.now;
  return {
    ...basePlan(op, 'started'),
    destroy: at.extras,
    // It runs: the next start problem backs off from the beginning again.
    after: change(currentWrite(op), { stage: 'running', startedAt }, ['retryBackoffMs']),
    situation: running(startedAt, at.instance),
    events: [events.started(at.instance.id)],
  };
}

interface AgentWait {
  machine: InstanceRecord;
  instance: Instance;
  extras: string[];
}

/**
 * The machine is up but the agent has not reported 'started' (tunnel handshake, image pull,
 * bootstrap): ContainerCreating, still under the start timeout, which covers the whole window
 * from create — an agent that never reports is a host fault like a machine that never boots.
 */
function awaitingAgent(op: ObservedPod, env: PlanEnv, wait: AgentWait): PodPlan {
  const { machine, instance, extras } = wait;
  const limit = env.config.startTimeoutMs[op.provider];
  if (env.now - machine.createdAt <= limit) {
    const message = `Instance ${machine.id} is up; waiting for the anex agent to start the container (tunnel handshake)`;
    return waiting(op, extras, message, instance.publicIp);
  }
  const reason = `Instance ${machine.id}${where(machine)} is up but the anex agent did not start the container within ${minutes(limit)}`;
  return release(op, env, { reason, counts: true, ban: true, extras, events: [] });
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
      return withBilledPrice(
        {
          ...basePlan(op, 'report'),
          destroy: extras,
          situation: running(record.startedAt ?? env.now, instance),
        },
        op,
        instance,
      );
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

/**
 * The container ended while starting. Through the agent, before the agent reported 'started',
 * it is a failed start, and a host fault needs evidence (vast audit #7): no agent reached the
 * endpoint in this attempt (no status credential: the machine or the image never booted it)
 * — ban, as for a machine that never starts. An agent that bootstrapped and then ended is the
 * pod's own trouble (its command, its tunnel settings; the agent's 'failed' report says
 * which): next candidate, no ban.
 */
function endedWhileStarting(
  op: ObservedPod,
  env: PlanEnv,
  at: { record: PodRecord; machine: InstanceRecord; extras: string[] },
  exitCode: number | undefined,
): PodPlan {
  // Without the agent (or once it said 'started') the container ran: the workload ended.
  if (at.record.launch !== 'agent' || at.record.startedAt !== undefined)
    return exited(op, env, exitCode, at.extras);
  const on = `Instance ${at.machine.id}${where(at.machine)}`;
  if (at.record.statusCredentialHash === undefined) {
    const reason = `${on} exited before the anex agent reached the control plane (the machine never booted it)`;
    return release(op, env, { reason, counts: true, ban: true, extras: at.extras, events: [] });
  }
  const said = agentGaveUp(at.record) ? `: ${at.record.lastError}` : '';
  return failedStart(op, env, {
    fault: 'unknown',
    detail: `the container exited after the anex agent bootstrapped, before the workload started${said}`,
    extras: at.extras,
    machine: at.machine,
  });
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
        restarts: (from.restarts ?? 0) + 1,
        lastError: `Container exited with code ${code}`,
      },
      ['exitCode', 'startedAt', 'finishedAt', ...ATTEMPT_CREDENTIALS],
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
    unknown ? [...ATTEMPT_CREDENTIALS] : ['lastError', ...ATTEMPT_CREDENTIALS],
  );
  const next = afterRelease(op, env, before, destroy);
  return { ...next, before, events: [said, ...next.events] };
}

interface Lost {
  detail: string;
  ban: boolean;
  extras: string[];
}

/**
 * The machine went away under a running container. restartPolicy Never: Failed, with the
 * DisruptionTarget condition (finishedSituation) so a Job's podFailurePolicy can retry it
 * without spending its backoffLimit. Otherwise the container starts over on one new machine:
 * the lost run is the container's lastState (kubelet's ContainerStatusUnknown) and counts as a
 * restart; the attempt counts toward maxAttempts, and nothing resets that count.
 */
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
  const record = op.record && {
    ...op.record,
    restarts: (op.record.restarts ?? 0) + (op.record.agentRun ?? 0) + 1,
    lastTerminated: {
      exitCode: UNKNOWN_EXIT.code,
      reason: UNKNOWN_EXIT.reason,
      message: `The machine running the container was lost: ${reason}`,
      ...(op.record.startedAt === undefined ? {} : { startedAt: op.record.startedAt }),
      finishedAt: env.now,
    },
  };
  if (record !== undefined) {
    delete record.agentRun;
    delete record.backoff;
    delete record.ready;
  }
  return release({ ...op, record }, env, {
    reason,
    counts: true,
    ban: loss.ban,
    extras: loss.extras,
    events: [gone],
  });
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
