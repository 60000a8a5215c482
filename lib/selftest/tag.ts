import { randomBytes } from 'node:crypto';
import { formatTag, type Instance, type InstanceTag } from '../providers/provider.ts';

/**
 * The cluster id every selftest instance is tagged with (ADR 0018). The reconciler's adapters
 * list only their own cluster id's instances (`listTagged`), so an installation's GC never sees
 * a selftest's instance, and the selftest — whose adapter is built with this id — never sees a
 * cluster's.
 */
export const SELFTEST_CLUSTER_ID = 'anex-selftest';

/**
 * The second mark: every selftest pod UID starts with this (a real pod UID is a random v4 UUID;
 * matching these 60 fixed bits by chance is not a risk). Clean-up destroys only instances that
 * carry both marks, so even a cluster that named itself `anex-selftest` keeps its pods' instances.
 */
export const SELFTEST_UID_PREFIX = '5e1f7e57-0000-4000-8';

/** A fresh tag for one run: the reserved cluster id and a UID with the reserved prefix. */
export function newSelftestTag(random: (bytes: number) => Buffer = randomBytes): InstanceTag {
  const hex = random(8).toString('hex');
  // 5e1f7e57-0000-4000-8xxx-xxxxxxxxxxxx: a well-formed UUID (version 4, variant 8).
  return {
    clusterId: SELFTEST_CLUSTER_ID,
    podUid: `${SELFTEST_UID_PREFIX}${hex.slice(0, 3)}-${hex.slice(3, 15)}`,
  };
}

export function isSelftestTag(tag: InstanceTag | undefined): boolean {
  return tag?.clusterId === SELFTEST_CLUSTER_ID && tag.podUid.startsWith(SELFTEST_UID_PREFIX);
}

/** Selftest instances among `instances` (both marks). */
export function selftestInstances(instances: readonly Instance[]): Instance[] {
  return instances.filter((i) => isSelftestTag(i.tag));
}

export function tagText(tag: InstanceTag): string {
  return formatTag(tag);
}
