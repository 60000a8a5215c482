import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { expect } from 'vitest';
import type { Offer } from '../../../lib/offers/offer.ts';
import { eventually, type TestNamespace } from '../../support/index.ts';
import { liveInstances, type ReconcileGround } from './ground.ts';

export interface PodOptions {
  annotations?: Record<string, string>;
  image?: string;
  restartPolicy?: 'Never' | 'OnFailure' | 'Always';
}

/** A GPU pod for this ground's virtual node: the provider's selector and tolerations, pinned to the node. */
export function aGpuPod(ground: ReconcileGround, name: string, options: PodOptions = {}): V1Pod {
  const provider = ground.provider;
  return {
    metadata: { name, annotations: options.annotations ?? { 'anex.sh/gpu-names': 'RTX 4090' } },
    spec: {
      nodeSelector: { 'node-provider': provider, 'kubernetes.io/hostname': ground.nodeName },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Equal', value: provider, effect: 'NoSchedule' },
        {
          key: 'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore',
          operator: 'Equal',
          value: 'true',
          effect: 'NoSchedule',
        },
      ],
      restartPolicy: options.restartPolicy ?? 'Never',
      containers: [
        {
          name: 'main',
          image: options.image ?? 'ghcr.io/example/trainer:1',
          command: ['python', 'train.py'],
        },
      ],
    },
  };
}

/** Runs passes until `check` holds for pod `name`; returns the pod. */
export async function passUntil(
  ground: ReconcileGround,
  ns: TestNamespace,
  name: string,
  wanted: { what: string; check: (pod: V1Pod) => boolean },
): Promise<V1Pod> {
  return eventually(
    async () => {
      await ground.pass();
      const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name });
      return wanted.check(pod) ? pod : undefined;
    },
    {
      what: `pod ${name}: ${wanted.what}`,
      timeoutMs: 60_000,
      intervalMs: 300,
      describe: async () =>
        JSON.stringify((await ns.core.readNamespacedPod({ namespace: ns.name, name })).status),
    },
  );
}

export function passUntilPhase(
  ground: ReconcileGround,
  ns: TestNamespace,
  name: string,
  phase: string,
): Promise<V1Pod> {
  return passUntil(ground, ns, name, { what: phase, check: (pod) => pod.status?.phase === phase });
}

/** Runs passes until the pod waits with `reason` (Pending). */
export function passUntilWaiting(
  ground: ReconcileGround,
  ns: TestNamespace,
  name: string,
  reason: string,
): Promise<V1Pod> {
  return passUntil(ground, ns, name, {
    what: `waiting (${reason})`,
    check: (pod) => pod.status?.containerStatuses?.[0]?.state?.waiting?.reason === reason,
  });
}

/**
 * The end of every test: delete the namespace's pods, run passes until they are finalized and
 * their instances destroyed, and prove the simulator holds no live instance of this ground.
 */
export async function deleteAndDrain(ground: ReconcileGround, ns: TestNamespace): Promise<void> {
  await ns.core.deleteCollectionNamespacedPod({ namespace: ns.name });
  await eventually(
    async () => {
      await ground.pass();
      const left = (await ns.core.listNamespacedPod({ namespace: ns.name })).items.length;
      return left === 0 && liveInstances(ground).length === 0 ? true : undefined;
    },
    {
      what: 'pods finalized and instances destroyed',
      timeoutMs: 60_000,
      intervalMs: 300,
      describe: async () => JSON.stringify(liveInstances(ground)),
    },
  );
  expect(liveInstances(ground)).toEqual([]);
}

/** The pod's events as `Reason: message` lines. */
export async function eventLines(core: CoreV1Api, namespace: string, uid: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.uid=${uid}` });
  return list.items.map((e) => `${e.reason}: ${e.message}`);
}

/** The offers the pass would rank first for `annotations` on this ground's market, cheapest first. */
export async function rankedOffers(
  ground: ReconcileGround,
  annotations: Record<string, string>,
): Promise<Offer[]> {
  const view = {
    namespace: 'probe',
    name: 'probe',
    uid: 'probe',
    annotations,
    labels: {},
    nodeSelector: { 'node-provider': ground.provider },
    containers: [{ name: 'main', image: 'img:1', env: {} }],
    restartPolicy: 'Never' as const,
    status: undefined,
  };
  const parsed = ground.deps.rules.requirements(view, ground.provider);
  if (!parsed.ok) throw new Error(`test annotations invalid: ${parsed.errors.join('; ')}`);
  const offers = await ground.adapter.listOffers(parsed.requirements, {});
  return ground.deps.rules.rank({ requirements: parsed.requirements, offers, bans: [], now: ground.clock() });
}
