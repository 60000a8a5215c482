import type {
  V1Container,
  V1ContainerState,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
} from '@kubernetes/client-node';
import type {
  ContainerState,
  ContainerStatusView,
  ContainerView,
  InitContainerView,
  LabelledPod,
  PodCondition,
  PodPhase,
  PodStatusUpdate,
  PodView,
} from './cluster.ts';
import { type ContainerResources, envSpecOf, expand } from './env.ts';
import { readTime } from './kube-time.ts';
import { unsupportedPodSpec } from './pod-spec-support.ts';
import { containerLifecycle } from './probes.ts';
import { mountsOf, volumesOf } from './volumes.ts';

/**
 * V1Pod (as client-node deserializes it: times are Dates) → PodView. Times come out in
 * kubeTime form (RFC 3339, seconds) so they compare equal to what anex writes. A pod
 * missing its name or uid is not a pod the API server would return: `undefined`.
 */
export function toPodView(pod: V1Pod): PodView | undefined {
  const { name, namespace, uid } = pod.metadata ?? {};
  if (name === undefined || namespace === undefined || uid === undefined) return undefined;
  const { volumes, skipped } = volumesOf(pod.spec);
  const view: PodView = {
    namespace,
    name,
    uid,
    annotations: pod.metadata?.annotations ?? {},
    labels: pod.metadata?.labels ?? {},
    nodeSelector: pod.spec?.nodeSelector ?? {},
    containers: (pod.spec?.containers ?? []).map((c) => toContainerView(c, skipped)),
    restartPolicy: restartPolicy(pod.spec?.restartPolicy),
    status: toStatus(pod),
  };
  assign(view, 'nodeName', pod.spec?.nodeName);
  assign(view, 'deletionTimestamp', readTime(pod.metadata?.deletionTimestamp));
  assign(view, 'creationTimestamp', readTime(pod.metadata?.creationTimestamp));
  assign(view, 'phase', phase(pod.status?.phase));
  assign(view, 'deletionGracePeriodSeconds', pod.metadata?.deletionGracePeriodSeconds);
  assign(view, 'terminationGracePeriodSeconds', pod.spec?.terminationGracePeriodSeconds);
  assign(view, 'activeDeadlineSeconds', pod.spec?.activeDeadlineSeconds);
  assign(
    view,
    'tolerations',
    pod.spec?.tolerations?.map((t) => ({ ...t })),
  );
  assign(view, 'serviceAccountName', pod.spec?.serviceAccountName);
  assign(view, 'controllerKind', pod.metadata?.ownerReferences?.find((o) => o.controller === true)?.kind);
  const inits = (pod.spec?.initContainers ?? []).map(
    (c): InitContainerView => ({
      ...toContainerView(c, skipped),
      ...(c.restartPolicy === 'Always' ? { sidecar: true } : {}),
    }),
  );
  if (inits.length > 0) view.initContainers = inits;
  if (volumes.length > 0) view.volumes = volumes;
  if (skipped.length > 0) view.skippedVolumes = skipped;
  const pullSecrets = (pod.spec?.imagePullSecrets ?? []).flatMap((s) => (s.name ? [s.name] : []));
  if (pullSecrets.length > 0) view.imagePullSecrets = pullSecrets;
  const issues = unsupportedPodSpec(pod.spec);
  if (issues.length > 0) view.specIssues = issues;
  return view;
}

function toContainerView(container: V1Container, skipped: readonly string[]): ContainerView {
  const spec = envSpecOf(container);
  const env: Record<string, string> = {};
  for (const variable of spec.env) if ('value' in variable) env[variable.name] = expand(variable.value, env);
  const view: ContainerView = { name: container.name, image: container.image ?? '', env };
  const reads = spec.envFrom.length > 0 || spec.env.some((v) => !('value' in v));
  if (reads) view.envSpec = { env: spec.env, envFrom: spec.envFrom };
  if (spec.issues.length > 0) view.envIssues = spec.issues;
  const resources = resourcesOf(container);
  if (resources !== undefined) view.resources = resources;
  assign(view, 'command', container.command);
  assign(view, 'args', container.args);
  assign(view, 'workingDir', container.workingDir);
  assign(view, 'gpuLimit', gpuCount(container.resources?.limits?.['nvidia.com/gpu']));
  const lifecycle = containerLifecycle(container);
  if (Object.keys(lifecycle.probes).length > 0) view.probes = lifecycle.probes;
  assign(view, 'preStop', lifecycle.preStop);
  if (lifecycle.issues.length > 0) view.lifecycleIssues = lifecycle.issues;
  const mounts = mountsOf(container, skipped);
  if (mounts.length > 0) view.mounts = mounts;
  const ports = tcpPorts(container);
  if (ports.length > 0) view.ports = ports;
  const names = portNames(container, ports);
  if (names !== undefined) view.portNames = names;
  return view;
}

/** The names of the declared TCP ports that have one, by number (a forwarder declares the same). */
function portNames(container: V1Container, ports: readonly number[]): Record<number, string> | undefined {
  const named = (container.ports ?? []).filter(
    (p) =>
      (p.protocol ?? 'TCP') === 'TCP' &&
      p.name !== undefined &&
      p.name !== '' &&
      ports.includes(p.containerPort),
  );
  if (named.length === 0) return undefined;
  const names: Record<number, string> = {};
  for (const p of named) names[p.containerPort] ??= p.name as string;
  return names;
}

/** The declared TCP containerPorts (protocol absent means TCP), each once, in order. */
function tcpPorts(container: V1Container): number[] {
  const ports = (container.ports ?? [])
    .filter((p) => (p.protocol ?? 'TCP') === 'TCP' && Number.isInteger(p.containerPort))
    .map((p) => p.containerPort)
    .filter((port) => port >= 1 && port <= 65_535);
  return [...new Set(ports)];
}

function resourcesOf(container: V1Container): ContainerResources | undefined {
  const { requests, limits } = container.resources ?? {};
  const strings = (r: Record<string, unknown> | undefined) =>
    r === undefined ? undefined : Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]));
  if (requests === undefined && limits === undefined) return undefined;
  const out: ContainerResources = {};
  const req = strings(requests);
  const lim = strings(limits);
  if (req !== undefined) out.requests = req;
  if (lim !== undefined) out.limits = lim;
  return out;
}

function gpuCount(quantity: string | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const count = Number(quantity);
  return Number.isInteger(count) && count >= 0 ? count : undefined;
}

/** V1Pod → LabelledPod (the reconciler's own pods: name, labels, phase, address). */
export function toLabelledPod(pod: V1Pod): LabelledPod | undefined {
  const { name, namespace, uid } = pod.metadata ?? {};
  if (name === undefined || namespace === undefined || uid === undefined) return undefined;
  const view: LabelledPod = {
    namespace,
    name,
    uid,
    labels: pod.metadata?.labels ?? {},
    annotations: pod.metadata?.annotations ?? {},
  };
  assign(view, 'phase', phase(pod.status?.phase));
  assign(view, 'podIP', pod.status?.podIP === '' ? undefined : pod.status?.podIP);
  assign(view, 'deletionTimestamp', readTime(pod.metadata?.deletionTimestamp));
  assign(view, 'creationTimestamp', readTime(pod.metadata?.creationTimestamp));
  return view;
}

function toStatus(pod: V1Pod): PodStatusUpdate | undefined {
  const status = pod.status;
  const current = phase(status?.phase);
  if (status === undefined || current === undefined) return undefined;
  const view: PodStatusUpdate = {
    phase: current,
    conditions: (status.conditions ?? []).map(toCondition),
    containerStatuses: (status.containerStatuses ?? []).map(toContainerStatus),
  };
  if (status.initContainerStatuses !== undefined)
    view.initContainerStatuses = status.initContainerStatuses.map(toContainerStatus);
  assign(view, 'reason', status.reason);
  assign(view, 'message', status.message);
  assign(view, 'podIP', status.podIP);
  assign(view, 'hostIP', status.hostIP);
  assign(view, 'startTime', readTime(status.startTime));
  return view;
}

function toCondition(condition: V1PodCondition): PodCondition {
  const view: PodCondition = { type: condition.type, status: conditionStatus(condition.status) };
  assign(view, 'reason', condition.reason);
  assign(view, 'message', condition.message);
  assign(view, 'lastTransitionTime', readTime(condition.lastTransitionTime));
  return view;
}

function toContainerStatus(status: V1ContainerStatus): ContainerStatusView {
  const view: ContainerStatusView = {
    name: status.name,
    image: status.image,
    ready: status.ready,
    restartCount: status.restartCount,
    state: toState(status.state),
  };
  assign(view, 'started', status.started);
  assign(view, 'containerID', status.containerID === '' ? undefined : status.containerID);
  const last = status.lastState;
  if (last?.terminated !== undefined || last?.running !== undefined || last?.waiting !== undefined)
    view.lastState = toState(last);
  return view;
}

function toState(state: V1ContainerState | undefined): ContainerState {
  if (state?.terminated !== undefined) {
    const t = state.terminated;
    const terminated: Extract<ContainerState, { terminated: unknown }>['terminated'] = {
      exitCode: t.exitCode,
    };
    assign(terminated, 'reason', t.reason);
    assign(terminated, 'message', t.message);
    assign(terminated, 'startedAt', readTime(t.startedAt));
    assign(terminated, 'finishedAt', readTime(t.finishedAt));
    return { terminated };
  }
  if (state?.running !== undefined)
    return { running: { startedAt: readTime(state.running.startedAt) ?? '' } };
  const waiting: { reason: string; message?: string } = { reason: state?.waiting?.reason ?? '' };
  assign(waiting, 'message', state?.waiting?.message);
  return { waiting };
}

const PHASES: readonly PodPhase[] = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];

function phase(value: string | undefined): PodPhase | undefined {
  return PHASES.find((p) => p === value);
}

function conditionStatus(value: string): PodCondition['status'] {
  return value === 'True' || value === 'False' ? value : 'Unknown';
}

function restartPolicy(value: string | undefined): PodView['restartPolicy'] {
  return value === 'OnFailure' || value === 'Never' ? value : 'Always';
}

/** Sets an optional property only when there is a value (exactOptionalPropertyTypes). */
function assign<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
