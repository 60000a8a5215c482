import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace, eventually } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';

// Three reconcilers at once (three tick invocations overlapping) on the real parts: the
// per-pod lease and the record versions are conditional writes in dynalite, so each pod is
// rented exactly once.

const PODS = 5;

describe('concurrent passes on the real parts', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai');
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('rent exactly one instance per pod and leave none behind', async () => {
    const ns = await createTestNamespace('e2e-concurrent');
    const names = Array.from({ length: PODS }, (_, i) => `together-${i}`);
    for (const name of names)
      await ns.core.createNamespacedPod({ namespace: ns.name, body: aPod(ground, name) });

    const seen = new Set<string>();
    let rounds = 0;
    let contended = 0;
    await eventually(
      async () => {
        rounds += 1;
        const summaries = await Promise.all([ground.pass(), ground.pass(), ground.pass()]);
        for (const s of summaries) expect(s.errors).toEqual([]);
        for (const s of summaries) contended += s.skipped.busy + s.skipped.moved;
        for (const i of liveInstances(ground)) seen.add(i.id);
        const pods = (await ns.core.listNamespacedPod({ namespace: ns.name })).items;
        return pods.length === PODS && pods.every((p) => p.status?.phase === 'Running') ? true : undefined;
      },
      { what: 'all pods Running under concurrent passes', timeoutMs: 90_000, intervalMs: 300 },
    );
    process.stdout.write(
      `concurrent passes: ${rounds} rounds of 3, ${contended} pod actions yielded to another pass\n`,
    );
    // Every instance ever seen is still the pod's only one: none was rented twice and destroyed.
    expect(seen.size).toBe(PODS);
    expect(new Set(liveInstances(ground).map((i) => i.label)).size).toBe(PODS);

    for (const name of names) await ns.core.deleteNamespacedPod({ namespace: ns.name, name });
    await eventually(
      async () => {
        await Promise.all([ground.pass(), ground.pass(), ground.pass()]);
        const left = (await ns.core.listNamespacedPod({ namespace: ns.name })).items.length;
        return left === 0 && liveInstances(ground).length === 0 ? true : undefined;
      },
      { what: 'pods gone and instances destroyed', timeoutMs: 60_000, intervalMs: 300 },
    );
  });
});

function aPod(ground: ReconcileGround, name: string): V1Pod {
  return {
    metadata: {
      name,
      annotations: { 'anex.sh/gpu-names': 'RTX 4090,RTX 3090', 'vastai.anex.sh/verified-only': 'false' },
    },
    spec: {
      nodeSelector: { 'node-provider': 'vastai', 'kubernetes.io/hostname': ground.nodeName },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
        {
          key: 'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore',
          operator: 'Exists',
          effect: 'NoSchedule',
        },
      ],
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'ghcr.io/example/trainer:1', command: ['python', 'train.py'] }],
    },
  };
}
