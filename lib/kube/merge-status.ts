import type { PodCondition, PodStatusUpdate } from './cluster.ts';

/**
 * What the API server stores after `updatePodStatus` sends `update` as a strategic merge
 * patch over `current`: conditions merge by `type` (the patch key Kubernetes declares), so
 * the scheduler's PodScheduled condition survives our writes; containerStatuses has no
 * patch key and is replaced as a whole (checked against kube-apiserver 1.33); scalar fields
 * the update sets replace the stored ones. Used by MemoryCluster so unit tests see what a
 * real cluster would keep.
 */
export function mergeStatus(current: PodStatusUpdate | undefined, update: PodStatusUpdate): PodStatusUpdate {
  if (current === undefined) return structuredClone(update);
  const merged: PodStatusUpdate = {
    ...structuredClone(current),
    ...withoutLists(structuredClone(update)),
    conditions: mergeBy(current.conditions, update.conditions, (c) => c.type, mergeCondition),
    containerStatuses: structuredClone([...update.containerStatuses]),
  };
  if (update.initContainerStatuses !== undefined)
    merged.initContainerStatuses = structuredClone([...update.initContainerStatuses]);
  // reason/message describe the phase they came with: an update that leaves them out clears them.
  if (update.reason === undefined) delete merged.reason;
  if (update.message === undefined) delete merged.message;
  return merged;
}

function withoutLists(update: PodStatusUpdate): Partial<PodStatusUpdate> {
  const { conditions: _c, containerStatuses: _s, initContainerStatuses: _i, ...rest } = update;
  return rest;
}

/** Conditions keep their transition time unless the update brings one (the API server does the same). */
function mergeCondition(old: PodCondition, next: PodCondition): PodCondition {
  const merged: PodCondition = { type: next.type, status: next.status };
  if (next.reason !== undefined) merged.reason = next.reason;
  if (next.message !== undefined) merged.message = next.message;
  const time = next.lastTransitionTime ?? old.lastTransitionTime;
  if (time !== undefined) merged.lastTransitionTime = time;
  return merged;
}

function mergeBy<T>(
  current: readonly T[],
  update: readonly T[],
  key: (item: T) => string,
  merge: (old: T, next: T) => T,
): T[] {
  const result = current.map((item) => structuredClone(item));
  for (const item of update) {
    const index = result.findIndex((old) => key(old) === key(item));
    const next = structuredClone(item);
    if (index === -1) result.push(next);
    else result[index] = merge(result[index] as T, next);
  }
  return result;
}
