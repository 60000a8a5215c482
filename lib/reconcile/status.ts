import { isDeepStrictEqual } from 'node:util';
import type {
  ContainerState,
  ContainerStatusView,
  PodCondition,
  PodPhase,
  PodStatusUpdate,
  PodView,
} from '../kube/cluster.ts';
import type { Situation } from './types.ts';

/** anex's own pod condition: True once an instance is rented for the pod. */
export const PROVISIONED = 'anex.sh/Provisioned';

/** kubelet's reason for a container whose state cannot be known; we reuse it when the provider gives no exit code. */
export const UNKNOWN_EXIT = { code: 137, reason: 'ContainerStatusUnknown' } as const;

export interface StatusInput {
  pod: PodView;
  situation: Situation;
  now: number;
  /** the pod's VPN address: its podIP */
  podIP?: string;
  /** the rented machine's public address, when known */
  hostIP?: string;
  restarts?: number;
}

/**
 * The whole status anex reports for a pod in `situation`. Times already in the pod's status
 * are kept when nothing changed (startTime, a condition's lastTransitionTime), so building
 * twice from the same facts yields the same status and {@link sameStatus} skips the write.
 */
export function buildStatus(input: StatusInput): PodStatusUpdate {
  const { pod, situation } = input;
  const previous = pod.status;
  const state = containerState(situation);
  const ready = situation.kind === 'running';
  const containerStatuses: ContainerStatusView[] = pod.containers.map((c) => ({
    name: c.name,
    image: c.image,
    ready,
    restartCount: input.restarts ?? 0,
    started: ready,
    state,
  }));
  const status: PodStatusUpdate = {
    phase: phaseOf(situation),
    conditions: conditionsFor(situation).map((c) => withTransitionTime(c, previous, input.now)),
    containerStatuses,
    startTime: previous?.startTime ?? iso(input.now),
  };
  const failure = podReason(situation);
  if (failure !== undefined) Object.assign(status, failure);
  if (input.podIP !== undefined) status.podIP = input.podIP;
  if (input.hostIP !== undefined) status.hostIP = input.hostIP;
  return status;
}

/**
 * True when writing `next` would change nothing the reconciler owns: the fields it sets, the
 * conditions it sets (by type) and its container statuses (by name). Fields others own —
 * the scheduler's PodScheduled — are not compared.
 */
export function sameStatus(current: PodStatusUpdate | undefined, next: PodStatusUpdate): boolean {
  if (current === undefined) return false;
  const scalars = ['phase', 'reason', 'message', 'podIP', 'hostIP', 'startTime'] as const;
  if (scalars.some((k) => current[k] !== next[k])) return false;
  const conditionsSame = next.conditions.every((c) =>
    isDeepStrictEqual(
      pick(
        current.conditions.find((o) => o.type === c.type),
        c,
      ),
      c,
    ),
  );
  const containersSame = next.containerStatuses.every((c) =>
    isDeepStrictEqual(
      pick(
        current.containerStatuses.find((o) => o.name === c.name),
        c,
      ),
      c,
    ),
  );
  return conditionsSame && containersSame;
}

/** The Provisioned condition's message for `situation`: what plan compares to decide whether an event is new. */
export function provisionedMessage(situation: Situation): string {
  return provisionedCondition(situation).message ?? '';
}

export function currentProvisionedMessage(status: PodStatusUpdate | undefined): string | undefined {
  return status?.conditions.find((c) => c.type === PROVISIONED)?.message;
}

function phaseOf(situation: Situation): PodPhase {
  switch (situation.kind) {
    case 'running':
      return 'Running';
    case 'terminated':
      return situation.exitCode === 0 ? 'Succeeded' : 'Failed';
    case 'failed':
      return 'Failed';
    default:
      return 'Pending';
  }
}

function podReason(situation: Situation): { reason: string; message: string } | undefined {
  if (situation.kind === 'failed') return { reason: situation.reason, message: situation.message };
  return undefined;
}

function containerState(situation: Situation): ContainerState {
  switch (situation.kind) {
    case 'invalid':
      return { waiting: { reason: 'InvalidAnnotations', message: situation.issues.join('; ') } };
    case 'no-match':
      return { waiting: { reason: 'NoMatchingOffers', message: situation.summary } };
    case 'provisioning':
      return { waiting: { reason: 'Provisioning', message: situation.message } };
    case 'starting':
      return { waiting: { reason: 'ContainerCreating', message: situation.message } };
    case 'running':
      return { running: { startedAt: iso(situation.startedAt) } };
    case 'terminated':
      return { terminated: terminatedState(situation) };
    case 'failed':
    case 'image':
      return { waiting: { reason: situation.reason, message: situation.message } };
  }
}

function terminatedState(s: Extract<Situation, { kind: 'terminated' }>) {
  return {
    exitCode: s.exitCode,
    reason: s.exitCode === 0 ? 'Completed' : s.exitCode === UNKNOWN_EXIT.code ? UNKNOWN_EXIT.reason : 'Error',
    ...(s.message === undefined ? {} : { message: s.message }),
    ...(s.startedAt === undefined ? {} : { startedAt: iso(s.startedAt) }),
    finishedAt: iso(s.finishedAt),
  };
}

function conditionsFor(situation: Situation): PodCondition[] {
  const ready = situation.kind === 'running';
  const notReady =
    situation.kind === 'terminated' || situation.kind === 'failed' ? 'PodCompleted' : 'ContainersNotReady';
  const readiness = (type: string): PodCondition =>
    ready ? { type, status: 'True' } : { type, status: 'False', reason: notReady };
  return [
    { type: 'Initialized', status: 'True' },
    provisionedCondition(situation),
    readiness('ContainersReady'),
    readiness('Ready'),
  ];
}

function provisionedCondition(situation: Situation): PodCondition {
  const type = PROVISIONED;
  switch (situation.kind) {
    case 'invalid':
      return { type, status: 'False', reason: 'InvalidAnnotations', message: situation.issues.join('; ') };
    case 'no-match':
      return { type, status: 'False', reason: 'NoMatchingOffers', message: situation.summary };
    case 'provisioning':
      return { type, status: 'False', reason: 'Provisioning', message: situation.message };
    case 'starting':
      return { type, status: 'True', reason: 'InstanceStarting', message: situation.message };
    case 'running':
      return {
        type,
        status: 'True',
        reason: 'InstanceRunning',
        message: 'The container is running on the rented instance',
      };
    case 'terminated':
      return {
        type,
        status: 'False',
        reason: 'InstanceReleased',
        message: 'The container ended; its instance was destroyed',
      };
    case 'failed':
    case 'image':
      return { type, status: 'False', reason: situation.reason, message: situation.message };
  }
}

function withTransitionTime(
  condition: PodCondition,
  previous: PodStatusUpdate | undefined,
  now: number,
): PodCondition {
  const before = previous?.conditions.find((c) => c.type === condition.type);
  const at =
    before?.status === condition.status && before.lastTransitionTime ? before.lastTransitionTime : iso(now);
  return { ...condition, lastTransitionTime: at };
}

/** `current` reduced to the keys `shape` has, so fields owned by others do not count as a difference. */
function pick<T extends object>(current: T | undefined, shape: T): Partial<T> | undefined {
  if (current === undefined) return undefined;
  const out: Partial<T> = {};
  for (const key of Object.keys(shape) as (keyof T)[]) {
    if (current[key] !== undefined) out[key] = current[key];
  }
  return out;
}

/** RFC 3339 to the second: the API server drops fractions, and a stored time must compare equal to a rebuilt one. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
