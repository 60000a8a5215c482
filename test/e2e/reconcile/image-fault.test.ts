import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { createTestNamespace, eventually } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';

// An image that cannot be pulled is the user's to fix, not the machine's. On Vast the status
// message says so: the pod fails with ImagePullError after the first failure, nothing is
// banned. RunPod gives no signal (the pod stays RUNNING without uptime, providers.md §5), so
// there it is a start timeout like any other: offers cool down and the pod fails once its
// attempts are used up. Either way nothing is left rented.

const IMAGE = 'ghcr.io/example/does-not-exist:404';

describe.each([
  { provider: 'vastai' as const, reason: 'ImagePullError', message: IMAGE, attempts: 1 },
  {
    provider: 'runpod' as const,
    reason: 'ProvisioningFailed',
    message: 'did not start within 2 s',
    attempts: 2,
  },
])('image fault on $provider', ({ provider, reason, message, attempts }) => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    // No image check before renting: what the provider itself does with an image it cannot
    // pull (a registry anex cannot read, e.g. a private one without credentials).
    ground = await startGround(provider, {
      images: 'none',
      config: {
        startTimeoutMs: { vastai: 60_000, runpod: 2_000 },
        maxAttempts: 2,
      },
    });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it(`fails the pod with ${reason} and leaves nothing rented`, async () => {
    const { sim } = ground;
    if (sim instanceof VastAiSim) sim.setImagePlan(IMAGE, 'image-pull-error');
    if (sim instanceof RunPodSim) sim.setImagePlan(IMAGE, 'image-pull-error');
    const ns = await createTestNamespace('e2e-image');
    await ns.core.createNamespacedPod({ namespace: ns.name, body: aPod(ground, 'bad-image') });

    const failed = await eventually(
      async () => {
        await ground.pass();
        const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'bad-image' });
        return pod.status?.phase === 'Failed' ? pod : undefined;
      },
      { what: `${provider} pod Failed on its image`, timeoutMs: 60_000, intervalMs: 300 },
    );
    expect(failed.status?.reason).toBe(reason);
    expect(failed.status?.message).toContain(message);
    // No machine is blamed for an image (RunPod only cools offers down; it has no machines).
    const bans = await ground.deps.store.listBans(provider, Date.now());
    expect(bans.filter((b) => !b.machineId.includes(':'))).toEqual([]);
    expect(liveInstances(ground)).toEqual([]);
    const record = await ground.deps.store.getPod(failed.metadata?.uid as string);
    expect(record).toMatchObject({ stage: 'finished', attempts, failureReason: reason });
  });
});

function aPod(ground: ReconcileGround, name: string): V1Pod {
  const provider = ground.provider;
  return {
    metadata: {
      name,
      annotations: { 'anex.sh/gpu-names': 'RTX 4090,RTX 3090', 'vastai.anex.sh/verified-only': 'false' },
    },
    spec: {
      nodeSelector: { 'node-provider': provider, 'kubernetes.io/hostname': ground.nodeName },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
        {
          key: 'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore',
          operator: 'Exists',
          effect: 'NoSchedule',
        },
      ],
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: IMAGE, command: ['python', 'train.py'] }],
    },
  };
}
