import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Cluster, PodManifest, PodRef, PodStatusUpdate } from '../../../lib/kube/cluster.ts';

/**
 * The Cluster contract (lib/kube/cluster.ts) as tests, run against MemoryCluster (unit)
 * and KubeCluster on the real control plane (integration), so the fake the reconciler's
 * unit tests lean on behaves like the API server.
 */
export interface ClusterHarness {
  cluster: Cluster;
  /** the virtual node pods are bound to (the harness registers it) */
  nodeName: string;
  namespace: string;
  /** Creates a pod already bound to `nodeName`. */
  addPod(input: HarnessPod): Promise<PodRef>;
  /** Creates a Secret or ConfigMap in `namespace` with this string data. */
  addEnvSource(kind: 'Secret' | 'ConfigMap', name: string, data: Record<string, string>): Promise<void>;
  /** Deletes the pod the way kubectl does: it stays, with a deletionTimestamp, until finalized. */
  requestDeletion(pod: PodRef): Promise<void>;
  /** Events on the pod: reason, message, count. */
  events(pod: PodRef): Promise<{ reason: string; message: string; count: number }[]>;
  /** Removes what the harness created for the test. */
  dispose?(): Promise<void>;
}

export interface HarnessPod {
  name: string;
  annotations?: Record<string, string>;
  env?: Record<string, string>;
  /** names of env vars that come from a valueFrom source */
  envFrom?: string[];
  gpuLimit?: number;
}

export function describeClusterContract(name: string, makeHarness: () => Promise<ClusterHarness>): void {
  describe(`${name} (Cluster contract)`, () => {
    let h: ClusterHarness;
    beforeEach(async () => {
      h = await makeHarness();
    });
    afterEach(async () => {
      await h?.dispose?.();
    });

    it('lists pods bound to the node with their containers parsed', async () => {
      const ref = await h.addPod({
        name: 'trainer',
        annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
        env: { MODE: 'train' },
        envFrom: ['POD_NAME'],
        gpuLimit: 2,
      });
      const pods = (await h.cluster.listPods(h.nodeName)).filter((p) => p.namespace === h.namespace);
      expect(pods).toHaveLength(1);
      expect(pods[0]).toMatchObject({ ...ref, nodeName: h.nodeName, phase: 'Pending' });
      expect(pods[0]?.annotations['anex.sh/gpu-names']).toBe('RTX 4090');
      expect(pods[0]?.containers[0]).toMatchObject({
        env: { MODE: 'train' },
        envSpec: {
          env: [
            { name: 'MODE', value: 'train' },
            { name: 'POD_NAME', fieldRef: { fieldPath: 'metadata.name' } },
          ],
          envFrom: [],
        },
        gpuLimit: 2,
      });
      expect(await h.cluster.listPods('some-other-node')).toEqual([]);
    });

    it('reads the string data of a Secret and a ConfigMap a pod env reads, or undefined when absent', async () => {
      await h.addEnvSource('Secret', 'hf', { token: 'tok-é-123', 'multi.line': 'a\nb' });
      await h.addEnvSource('ConfigMap', 'settings', { MODE: 'train' });
      expect(await h.cluster.readEnvSource(h.namespace, 'Secret', 'hf')).toEqual({
        token: 'tok-é-123',
        'multi.line': 'a\nb',
      });
      expect(await h.cluster.readEnvSource(h.namespace, 'ConfigMap', 'settings')).toEqual({ MODE: 'train' });
      expect(await h.cluster.readEnvSource(h.namespace, 'Secret', 'settings')).toBeUndefined();
      expect(await h.cluster.readEnvSource(h.namespace, 'ConfigMap', 'none')).toBeUndefined();
    });

    it('reads one pod, or undefined when there is none', async () => {
      const ref = await h.addPod({ name: 'one' });
      expect(await h.cluster.getPod(h.namespace, 'one')).toMatchObject(ref);
      expect(await h.cluster.getPod(h.namespace, 'none')).toBeUndefined();
    });

    it('writes status and reads it back, keeping conditions it did not send', async () => {
      const ref = await h.addPod({ name: 'status' });
      const running = aRunningStatus();
      expect(await h.cluster.updatePodStatus(ref, aWaitingStatus())).toBe('updated');
      expect(await h.cluster.updatePodStatus(ref, running)).toBe('updated');
      const status = (await h.cluster.getPod(h.namespace, 'status'))?.status;
      expect(status).toMatchObject({ phase: 'Running', podIP: '10.99.0.7', startTime: running.startTime });
      expect(status?.containerStatuses).toEqual(running.containerStatuses);
      expect(status?.conditions.find((c) => c.type === 'anex.sh/Provisioned')).toMatchObject({
        status: 'True',
        reason: 'InstanceRunning',
      });
      expect(status?.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(status?.reason).toBeUndefined();
    });

    it('replaces container statuses as a whole (they have no merge key)', async () => {
      const ref = await h.addPod({ name: 'containers' });
      await h.cluster.updatePodStatus(ref, aRunningStatus());
      const renamed = aRunningStatus().containerStatuses.map((c) => ({ ...c, name: 'sidecar' }));
      await h.cluster.updatePodStatus(ref, { ...aRunningStatus(), containerStatuses: renamed });
      const status = (await h.cluster.getPod(h.namespace, 'containers'))?.status;
      expect(status?.containerStatuses.map((c) => c.name)).toEqual(['sidecar']);
    });

    it.each([
      ['a uid that no longer matches', (ref: PodRef) => ({ ...ref, uid: 'another-uid' })],
      ['a name that does not exist', (ref: PodRef) => ({ ...ref, name: 'missing' })],
    ])('answers gone for a status write to %s', async (_, change) => {
      const ref = await h.addPod({ name: 'gone' });
      expect(await h.cluster.updatePodStatus(change(ref), aWaitingStatus())).toBe('gone');
      expect(await h.cluster.finalizePod(change(ref))).toBe('gone');
    });

    it('deduplicates events with the same reason and message by counting them', async () => {
      const ref = await h.addPod({ name: 'events' });
      const event = {
        type: 'Warning',
        reason: 'NoMatchingOffers',
        message: '0 of 120 offers match',
      } as const;
      await h.cluster.recordEvent(ref, event, { now: 1_800_000_000_000 });
      await h.cluster.recordEvent(ref, event, { now: 1_800_000_010_000 });
      await h.cluster.recordEvent(
        ref,
        { ...event, message: '0 of 121 offers match' },
        { now: 1_800_000_020_000 },
      );
      const events = await h.events(ref);
      expect(events.map((e) => [e.message, e.count]).sort()).toEqual([
        ['0 of 120 offers match', 2],
        ['0 of 121 offers match', 1],
      ]);
    });

    it('shows a deletion request, then finalizes the pod once', async () => {
      const ref = await h.addPod({ name: 'bye' });
      await h.requestDeletion(ref);
      const deleting = await h.cluster.getPod(h.namespace, 'bye');
      expect(deleting?.deletionTimestamp).toEqual(expect.any(String));
      expect(await h.cluster.finalizePod(ref)).toBe('deleted');
      expect(await h.cluster.getPod(h.namespace, 'bye')).toBeUndefined();
      expect(await h.cluster.finalizePod(ref)).toBe('gone');
      expect(await h.cluster.updatePodStatus(ref, aWaitingStatus())).toBe('gone');
    });

    it('creates a pod from a manifest, lists it by label key, and deletes it once', async () => {
      await h.addPod({ name: 'unlabelled' });
      const manifest = aLabelledManifest(h.namespace, 'helper');
      expect(await h.cluster.createPod(manifest)).toBe('created');
      expect(await h.cluster.createPod(manifest)).toBe('exists');
      const listed = await h.cluster.listLabelledPods(h.namespace, TEST_LABEL);
      expect(listed).toEqual([
        expect.objectContaining({
          namespace: h.namespace,
          name: 'helper',
          uid: expect.any(String),
          labels: expect.objectContaining({ [TEST_LABEL]: 'owner-1' }),
          annotations: expect.objectContaining({ 'anex.test/note': 'made by the contract' }),
          phase: 'Pending',
        }),
      ]);
      expect(await h.cluster.listLabelledPods(h.namespace, 'anex.test/absent')).toEqual([]);
      const ref = { namespace: h.namespace, name: 'helper', uid: listed[0]?.uid ?? '' };
      expect(await h.cluster.deletePod({ ...ref, uid: 'another-uid' })).toBe('gone');
      expect(await h.cluster.deletePod(ref)).toBe('deleted');
      expect(await h.cluster.deletePod(ref)).toBe('gone');
      expect(await h.cluster.listLabelledPods(h.namespace, TEST_LABEL)).toEqual([]);
    });

    it('sets only the address of a pod, changes it again, and answers gone for another uid', async () => {
      const ref = await h.addPod({ name: 'addressed' });
      await h.cluster.updatePodStatus(ref, aRunningStatus());
      expect(await h.cluster.setPodIP(ref, '10.244.1.7')).toBe('updated');
      const first = (await h.cluster.getPod(h.namespace, 'addressed'))?.status;
      expect(first).toMatchObject({ phase: 'Running', podIP: '10.244.1.7', hostIP: '10.99.0.7' });
      expect(first?.containerStatuses).toEqual(aRunningStatus().containerStatuses);
      // A recreated forwarder's new IP: the API server takes a changed podIP (ADR 0024).
      expect(await h.cluster.setPodIP(ref, '10.244.2.8')).toBe('updated');
      expect((await h.cluster.getPod(h.namespace, 'addressed'))?.status?.podIP).toBe('10.244.2.8');
      expect(await h.cluster.setPodIP({ ...ref, uid: 'another-uid' }, '10.244.3.9')).toBe('gone');
      expect(await h.cluster.setPodIP({ ...ref, name: 'missing' }, '10.244.3.9')).toBe('gone');
    });
  });
}

const TEST_LABEL = 'anex.test/owner';

/** A plain pod off the virtual node (nothing schedules it in the test grounds: it stays Pending). */
export function aLabelledManifest(namespace: string, name: string): PodManifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: { [TEST_LABEL]: 'owner-1' },
      annotations: { 'anex.test/note': 'made by the contract' },
    },
    spec: {
      automountServiceAccountToken: false,
      containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10', ports: [{ containerPort: 8000 }] }],
    },
  };
}

export function aWaitingStatus(): PodStatusUpdate {
  return {
    phase: 'Pending',
    reason: 'Provisioning',
    message: 'renting offer 991',
    conditions: [
      { type: 'anex.sh/Provisioned', status: 'False', reason: 'Provisioning', message: 'renting offer 991' },
    ],
    containerStatuses: [
      {
        name: 'main',
        image: 'ghcr.io/example/trainer:1',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating', message: 'instance starting' } },
      },
    ],
  };
}

export function aRunningStatus(): PodStatusUpdate {
  const at = '2026-11-26T18:00:00Z';
  return {
    phase: 'Running',
    conditions: [
      { type: 'anex.sh/Provisioned', status: 'True', reason: 'InstanceRunning', lastTransitionTime: at },
      { type: 'Ready', status: 'True', lastTransitionTime: at },
    ],
    containerStatuses: [
      {
        name: 'main',
        image: 'ghcr.io/example/trainer:1',
        ready: true,
        restartCount: 0,
        started: true,
        state: { running: { startedAt: at } },
      },
    ],
    podIP: '10.99.0.7',
    hostIP: '10.99.0.7',
    startTime: at,
  };
}
