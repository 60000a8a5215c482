import { randomBytes } from 'node:crypto';
import { parseRequirements } from '../annotations/parse.ts';
import type { Requirements } from '../annotations/requirements.ts';
import { AnexError } from '../errors.ts';
import type { PodView } from '../kube/cluster.ts';
import type { ProviderName } from '../offers/offer.ts';
import type { InstanceTag, LaunchSpec } from '../providers/provider.ts';
import { buildLaunchSpec } from '../reconcile/launch.ts';
import { MARKER_NONCE_ENV, markerCommand } from '../tunnel/agent/stub.ts';

/** The tiny public image the selftest runs (Docker Hub busybox: a few MB, /bin/sh and sleep). */
export const SELFTEST_IMAGE = 'busybox:1.36';

/** Container disk the selftest allocates, GB: Vast's least (8) is refused below, 10 leaves room. */
export const SELFTEST_DISK_GB = 10;

/**
 * The selftest's annotations, as a pod would carry them: one GPU of any name, a little disk,
 * RunPod's Secure Cloud. The agent mode puts them on its pod (plus the price ceiling).
 */
export function selftestAnnotations(provider: ProviderName): Record<string, string> {
  return {
    'anex.sh/gpu-count': '1',
    'anex.sh/disk-space-gb': String(SELFTEST_DISK_GB),
    ...(provider === 'runpod' ? { 'runpod.anex.sh/cloud-type': 'SECURE' } : {}),
  };
}

/**
 * The small requirement set (issue #17): one GPU of any name, a little disk; Vast's verified
 * hosts only (the parser's default), RunPod's Secure Cloud — its nearest to "verified".
 * Parsed by the product's own annotation parser, so the search is the reconciler's.
 */
export function selftestRequirements(provider: ProviderName): Requirements {
  const parsed = parseRequirements({
    annotations: selftestAnnotations(provider),
    providerOverride: provider,
  });
  if (!parsed.ok)
    throw new AnexError(`selftest requirements: ${parsed.errors.join('; ')}`, { kind: 'internal' });
  return parsed.requirements;
}

/** A nonce per run: the marker the container prints carries it. */
export function newNonce(): string {
  return randomBytes(12).toString('hex');
}

/**
 * The launch, built by the reconciler's own builder (lib/reconcile/launch.ts) from a pod that
 * runs the marker stub (lib/tunnel/agent/stub.ts `markerCommand`) — so the ownership env vars
 * and the exec form are the product's; only the command differs.
 */
export function selftestLaunch(input: {
  tag: InstanceTag;
  nonce: string;
  requirements: Requirements;
  image?: string;
}): LaunchSpec {
  const pod: PodView = {
    namespace: 'anex-selftest',
    name: 'selftest',
    uid: input.tag.podUid,
    annotations: {},
    labels: {},
    nodeSelector: {},
    containers: [
      {
        name: 'selftest',
        image: input.image ?? SELFTEST_IMAGE,
        command: markerCommand(),
        env: { [MARKER_NONCE_ENV]: input.nonce },
      },
    ],
    restartPolicy: 'Never',
    status: undefined,
  };
  return buildLaunchSpec({ pod, requirements: input.requirements, tag: input.tag });
}
