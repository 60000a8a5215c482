import { isDeepStrictEqual } from 'node:util';
import type {
  ContainerState,
  ContainerStatusView,
  InitContainerView,
  PodCondition,
  PodPhase,
  PodStatusUpdate,
  PodView,
} from '../kube/cluster.ts';
import { readinessGated } from '../kube/probes.ts';
import type { InitRun, TerminatedRun } from '../state/store.ts';
import type { Situation } from './types.ts';

/** anex's own pod condition: True once an instance is rented for the pod. */
export const PROVISIONED = 'anex.sh/Provisioned';

/** kubelet's reason for a container whose state cannot be known; we reuse it when the provider gives no exit code. */
export const UNKNOWN_EXIT = { code: 137, reason: 'ContainerStatusUnknown' } as const;

export interface StatusInput {
  pod: PodView;
  situation: Situation;
  now: number;
  /** the pod's VPN address: its podIP (unset with forwarders: theirs is written apart, ADR 0024) */
  podIP?: string;
  /** the rented machine's public address, when known */
  hostIP?: string;
  /** the container's runs, from the pod record (runView) */
  run?: RunView;
}

/**
 * What the record knows of the container's runs: kubelet's restartCount, lastState, the
 * CrashLoopBackOff wait between runs, readiness from the agent's probes, the container id.
 */
export interface RunView {
  restartCount: number;
  lastTerminated?: TerminatedRun;
  /** the agent waits this long before the next run (CrashLoopBackOff) */
  backoff?: { seconds: number };
  /** the agent's readiness report for the current run; absent: ready once running unless a probe gates it */
  ready?: boolean;
  /** `anex://<provider>/<instance>` */
  containerID?: string;
  /** the init containers and sidecars on this machine, as the agent reported them */
  inits?: readonly InitRun[];
}

/** The pod record's part of the status (fields of lib/state PodRecord). */
export function runView(record: {
  provider: string;
  restarts?: number;
  agentRun?: number;
  lastTerminated?: TerminatedRun;
  backoff?: { seconds: number; until: number };
  ready?: boolean;
  instance?: { id: string };
  initRuns?: readonly InitRun[];
}): RunView {
  const view: RunView = { restartCount: (record.restarts ?? 0) + (record.agentRun ?? 0) };
  if (record.lastTerminated !== undefined) view.lastTerminated = record.lastTerminated;
  if (record.backoff !== undefined) view.backoff = { seconds: record.backoff.seconds };
  if (record.ready !== undefined) view.ready = record.ready;
  if (record.instance !== undefined) view.containerID = `anex://${record.provider}/${record.instance.id}`;
  if (record.initRuns !== undefined && record.initRuns.length > 0) view.inits = record.initRuns;
  return view;
}

/**
 * The whole status anex reports for a pod in `situation`. Times already in the pod's status
 * are kept when nothing changed (startTime, a condition's lastTransitionTime), so building
 * twice from the same facts yields the same status and {@link sameStatus} skips the write.
 */
export function buildStatus(input: StatusInput): PodStatusUpdate {
  const { pod, situation } = input;
  const previous = pod.status;
  const run = input.run ?? { restartCount: 0 };
  const initialized = initDone(pod, run, situation);
  const state =
    initialized || situation.kind !== 'starting' ? containerState(situation, run, pod) : PODINITIALIZING;
  const running = 'running' in state;
  const gated = readinessGated(pod.containers[0]?.probes);
  const ready = running && (run.ready ?? !gated);
  // kubelet's `started`: the startup probe passed; without one, running. The agent reports
  // readiness only once a startup probe passed, so any readiness report means started.
  const started = running && (pod.containers[0]?.probes?.startup === undefined || run.ready !== undefined);
  const containerStatuses: ContainerStatusView[] = pod.containers.map((c) => {
    const status: ContainerStatusView = {
      name: c.name,
      image: c.image,
      ready,
      restartCount: run.restartCount,
      started,
      state,
    };
    const last = lastState(situation, run);
    if (last !== undefined) status.lastState = last;
    if (run.containerID !== undefined && situation.kind !== 'provisioning')
      status.containerID = run.containerID;
    return status;
  });
  const pending = (pod.initContainers ?? []).filter((c) => !initFinished(c, run));
  const status: PodStatusUpdate = {
    phase: phaseOf(situation),
    conditions: conditionsFor(situation, {
      ready,
      containers: pod.containers.map((c) => c.name),
      initialized,
      pendingInits: pending.map((c) => c.name),
    }).map((c) => withTransitionTime(c, previous, input.now)),
    containerStatuses,
    startTime: previous?.startTime ?? iso(input.now),
  };
  if ((pod.initContainers ?? []).length > 0) status.initContainerStatuses = initStatuses(pod, run);
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
  const scalars = ['phase', 'reason', 'message', 'hostIP', 'startTime'] as const;
  if (scalars.some((k) => current[k] !== next[k])) return false;
  // An update without podIP leaves the pod's as it is (the patch never clears it): with
  // forwarders (ADR 0024) the address is the forwarder's, written by lib/reconcile/forwarders.ts.
  if (next.podIP !== undefined && current.podIP !== next.podIP) return false;
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
  const initsSame = (next.initContainerStatuses ?? []).every((c) =>
    isDeepStrictEqual(
      pick(
        current.initContainerStatuses?.find((o) => o.name === c.name),
        c,
      ),
      c,
    ),
  );
  return conditionsSame && containersSame && initsSame;
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

/**
 * The container's state. Running with a back-off pending is kubelet's CrashLoopBackOff
 * (phase stays Running: getPhase counts a waiting container with a last termination as
 * running under restartPolicy Always/OnFailure); a terminal pod whose container never ran is
 * kubelet's ContainerStatusUnknown, so every terminal pod has a terminated container.
 */
function containerState(situation: Situation, run: RunView, pod: PodView): ContainerState {
  switch (situation.kind) {
    case 'running':
      if (run.backoff !== undefined && run.lastTerminated !== undefined) {
        if (run.backoff.seconds === 0) return { terminated: terminatedOf(run.lastTerminated) };
        const container = pod.containers[0]?.name ?? 'main';
        return {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off ${backoffText(run.backoff.seconds)} restarting failed container=${container} pod=${pod.name}_${pod.namespace}(${pod.uid})`,
          },
        };
      }
      return { running: { startedAt: iso(situation.startedAt) } };
    case 'failed':
      return {
        terminated: {
          exitCode: UNKNOWN_EXIT.code,
          reason: UNKNOWN_EXIT.reason,
          message: 'The container could not be located when the pod was terminated',
        },
      };
    default:
      return otherState(situation);
  }
}

const PODINITIALIZING: ContainerState = { waiting: { reason: 'PodInitializing' } };

/** A regular init container completed, or a sidecar started (kubelet's initialization is over for it). */
function initFinished(container: InitContainerView, run: RunView): boolean {
  const r = run.inits?.find((i) => i.name === container.name);
  if (r === undefined) return false;
  if (container.sidecar === true) return r.state === 'running' || r.terminated !== undefined;
  return r.state === 'terminated' && r.terminated?.exitCode === 0;
}

/** kubelet's Initialized: every init container done — or the app container already ran. */
function initDone(pod: PodView, run: RunView, situation: Situation): boolean {
  const inits = pod.initContainers ?? [];
  if (inits.length === 0 || situation.kind === 'running' || situation.kind === 'terminated') return true;
  return inits.every((c) => initFinished(c, run));
}

/** initContainerStatuses, in the pod's order, from the agent's reports of this machine. */
function initStatuses(pod: PodView, run: RunView): ContainerStatusView[] {
  return (pod.initContainers ?? []).map((c) => {
    const r = run.inits?.find((i) => i.name === c.name);
    const status: ContainerStatusView = {
      name: c.name,
      image: c.image,
      ready: false,
      restartCount: r?.restartCount ?? 0,
      started: false,
      state: PODINITIALIZING,
    };
    if (r === undefined) return status;
    if (run.containerID !== undefined) status.containerID = run.containerID;
    if (r.state === 'running') {
      status.state = { running: { startedAt: iso(r.startedAt ?? 0) } };
      status.started = c.probes?.startup === undefined || r.ready !== undefined;
      status.ready = c.sidecar === true && (r.ready ?? !readinessGated(c.probes));
    } else if (r.state === 'terminated' && r.terminated !== undefined) {
      status.state = { terminated: terminatedOf(r.terminated) };
      // kubelet marks an init container that completed as ready
      status.ready = c.sidecar !== true && r.terminated.exitCode === 0;
    } else if (r.state === 'waiting') {
      status.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${backoffText(r.backoffSeconds ?? 0)} restarting failed container=${c.name} pod=${pod.name}_${pod.namespace}(${pod.uid})`,
        },
      };
    }
    if (r.state !== 'terminated' && r.terminated !== undefined)
      status.lastState = { terminated: terminatedOf(r.terminated) };
    return status;
  });
}

/** kubelet prints the back-off as a Go duration: 10s, 1m20s, 5m0s. */
function backoffText(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

function terminatedOf(run: TerminatedRun): Extract<ContainerState, { terminated: unknown }>['terminated'] {
  return {
    exitCode: run.exitCode,
    reason: run.reason,
    ...(run.message === undefined ? {} : { message: run.message }),
    ...(run.startedAt === undefined ? {} : { startedAt: iso(run.startedAt) }),
    finishedAt: iso(run.finishedAt),
  };
}

/** lastState: the previous run's end, unless the current state already shows it (a back-off of 0 s). */
function lastState(situation: Situation, run: RunView): ContainerState | undefined {
  if (run.lastTerminated === undefined) return undefined;
  if (situation.kind === 'running' && run.backoff?.seconds === 0) return undefined;
  return { terminated: terminatedOf(run.lastTerminated) };
}

function otherState(situation: Exclude<Situation, { kind: 'running' | 'failed' }>): ContainerState {
  switch (situation.kind) {
    case 'invalid':
      return {
        waiting: { reason: situation.reason ?? 'InvalidAnnotations', message: situation.issues.join('; ') },
      };
    case 'no-match':
      return { waiting: { reason: 'NoMatchingOffers', message: situation.summary } };
    case 'provisioning':
      return { waiting: { reason: 'Provisioning', message: situation.message } };
    case 'starting':
      return { waiting: { reason: 'ContainerCreating', message: situation.message } };
    case 'terminated':
      return { terminated: terminatedState(situation) };
    case 'image':
    case 'held':
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

/**
 * kubelet's pod conditions (pkg/kubelet/status/generate.go): PodReadyToStartContainers once a
 * machine runs the pod's sandbox (here: the rented instance is up), Initialized (no init
 * containers run before the main one), ContainersReady and Ready from the container's
 * readiness, with kubelet's reasons and messages; plus anex's Provisioned and, when the
 * machine was lost under a running container, DisruptionTarget (Job podFailurePolicy).
 */
function conditionsFor(
  situation: Situation,
  facts: {
    ready: boolean;
    containers: readonly string[];
    initialized: boolean;
    pendingInits: readonly string[];
  },
): PodCondition[] {
  const terminal = situation.kind === 'terminated' || situation.kind === 'failed';
  const unready = `containers with unready status: [${facts.containers.join(' ')}]`;
  const readiness = (type: string): PodCondition => {
    if (facts.ready) return { type, status: 'True' };
    return terminal
      ? { type, status: 'False', reason: 'PodCompleted' }
      : { type, status: 'False', reason: 'ContainersNotReady', message: unready };
  };
  const sandbox = situation.kind === 'running' || situation.kind === 'starting';
  const conditions: PodCondition[] = [
    { type: 'PodReadyToStartContainers', status: sandbox ? 'True' : 'False' },
    facts.initialized
      ? { type: 'Initialized', status: 'True' }
      : {
          type: 'Initialized',
          status: 'False',
          reason: 'ContainersNotInitialized',
          message: `containers with incomplete status: [${facts.pendingInits.join(' ')}]`,
        },
    provisionedCondition(situation),
    readiness('ContainersReady'),
    readiness('Ready'),
  ];
  if (situation.kind === 'failed' && situation.disruption !== undefined) {
    conditions.push({
      type: 'DisruptionTarget',
      status: 'True',
      reason: 'TerminationByKubelet',
      message: situation.disruption,
    });
  }
  return conditions;
}

function provisionedCondition(situation: Situation): PodCondition {
  const type = PROVISIONED;
  switch (situation.kind) {
    case 'invalid':
      return {
        type,
        status: 'False',
        reason: situation.reason ?? 'InvalidAnnotations',
        message: situation.issues.join('; '),
      };
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
    case 'held':
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
