import { createHash } from 'node:crypto';
import type {
  ContainerState,
  ContainerStatusView,
  PodCondition,
  PodEvent,
  PodRef,
  PodStatusUpdate,
} from './cluster.ts';

/**
 * Request bodies for pod writes. The status patch is a strategic merge patch: conditions
 * merge by `type`, so fields other writers own (the scheduler's PodScheduled) survive;
 * containerStatuses is replaced whole (no patch key), so send every container. JSON `null` deletes a key in a strategic merge patch:
 * we send it for every optional field the update leaves out, so a stale reason, message or
 * container state never lingers next to the new one (a container is in exactly one state).
 * `metadata.uid` makes the API server refuse the patch if the name now belongs to another pod.
 */
export function podStatusPatch(pod: PodRef, status: PodStatusUpdate): object {
  return {
    metadata: { uid: pod.uid },
    status: {
      phase: status.phase,
      reason: status.reason ?? null,
      message: status.message ?? null,
      conditions: status.conditions.map(conditionPatch),
      containerStatuses: status.containerStatuses.map(containerStatusPatch),
      ...(status.initContainerStatuses === undefined
        ? {}
        : { initContainerStatuses: status.initContainerStatuses.map(containerStatusPatch) }),
      ...ipPatch('podIP', 'podIPs', status.podIP),
      ...ipPatch('hostIP', 'hostIPs', status.hostIP),
      ...(status.startTime === undefined ? {} : { startTime: status.startTime }),
    },
  };
}

function conditionPatch(condition: PodCondition): object {
  return {
    type: condition.type,
    status: condition.status,
    reason: condition.reason ?? null,
    message: condition.message ?? null,
    ...(condition.lastTransitionTime === undefined
      ? {}
      : { lastTransitionTime: condition.lastTransitionTime }),
  };
}

function containerStatusPatch(status: ContainerStatusView): object {
  return {
    name: status.name,
    image: status.image,
    imageID: '',
    containerID: status.containerID ?? null,
    ready: status.ready,
    restartCount: status.restartCount,
    started: status.started ?? null,
    state: statePatch(status.state),
    lastState: status.lastState === undefined ? {} : statePatch(status.lastState),
  };
}

function statePatch(state: ContainerState): object {
  return {
    waiting: 'waiting' in state ? state.waiting : null,
    running: 'running' in state ? state.running : null,
    terminated: 'terminated' in state ? state.terminated : null,
  };
}

/**
 * A JSON merge patch of the address alone (ADR 0024: the forwarder's IP). A merge patch
 * replaces lists whole, so `podIPs` is exactly this one address; the uid makes the API server
 * refuse it (409) when the name now belongs to another pod.
 */
export function podIPPatch(pod: PodRef, ip: string): object {
  return { metadata: { uid: pod.uid }, status: { podIP: ip, podIPs: [{ ip }] } };
}

/** `podIPs[0]` must equal `podIP`; `$patch: replace` keeps a changed address from being appended. */
function ipPatch(single: string, plural: string, ip: string | undefined): object {
  if (ip === undefined) return {};
  return { [single]: ip, [plural]: [{ ip }, { $patch: 'replace' }] };
}

/** Kubernetes names are ≤ 253 characters; the hash suffix keeps the name unique per pod, reason and message. */
export function eventName(pod: PodRef, event: PodEvent): string {
  const hash = createHash('sha256')
    .update(`${pod.uid}\n${event.reason}\n${event.message}`)
    .digest('hex')
    .slice(0, 16);
  return `${pod.name.slice(0, 253 - 17)}.${hash}`;
}

/** Event messages beyond this are cut: kubectl shows one line, and etcd objects should stay small. */
export const EVENT_MESSAGE_LIMIT = 1024;

export function eventMessage(message: string): string {
  return message.length <= EVENT_MESSAGE_LIMIT ? message : `${message.slice(0, EVENT_MESSAGE_LIMIT - 1)}…`;
}
