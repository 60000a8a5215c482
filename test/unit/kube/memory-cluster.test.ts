import { describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import { MemoryCluster } from '../../../lib/kube/memory-cluster.ts';
import { type ClusterHarness, describeClusterContract } from './cluster-contract.ts';

function memoryHarness(): ClusterHarness {
  const cluster = new MemoryCluster();
  const namespace = 'default';
  const nodeName = 'anex-vastai';
  return {
    cluster,
    nodeName,
    namespace,
    async addPod(input) {
      const pod = cluster.addPod({
        namespace,
        name: input.name,
        nodeName,
        annotations: input.annotations ?? {},
        containers: [
          {
            env: input.env ?? {},
            ...(input.envFrom === undefined
              ? {}
              : {
                  envSpec: {
                    env: [
                      ...Object.entries(input.env ?? {}).map(([name, value]) => ({ name, value })),
                      ...input.envFrom.map((name) => ({ name, fieldRef: { fieldPath: 'metadata.name' } })),
                    ],
                    envFrom: [],
                  },
                }),
            ...(input.gpuLimit === undefined ? {} : { gpuLimit: input.gpuLimit }),
          },
        ],
      });
      return { namespace, name: pod.name, uid: pod.uid };
    },
    async requestDeletion(pod) {
      cluster.requestDeletion(pod);
    },
    async addEnvSource(kind, name, data) {
      cluster.setEnvSource(kind, namespace, name, data);
    },
    async events(pod) {
      return cluster.events(pod);
    },
  };
}

describeClusterContract('MemoryCluster', async () => memoryHarness());

describe('MemoryCluster', () => {
  it('counts calls per method', async () => {
    const cluster = new MemoryCluster();
    await cluster.listPods('anex-vastai');
    await cluster.listPods('anex-runpod');
    expect(cluster.calls.listPods).toBe(2);
    expect(cluster.calls.getPod).toBe(0);
  });

  it.each([
    ['an injected error', new AnexError('denied', { kind: 'auth' }), 'auth'],
    ['the default unavailable error', undefined, 'unavailable'],
  ])('fails the next call once with %s', async (_, error, kind) => {
    const cluster = new MemoryCluster();
    cluster.failNext('listPods', error);
    await expect(cluster.listPods('anex-vastai')).rejects.toMatchObject({ kind });
    await expect(cluster.listPods('anex-vastai')).resolves.toEqual([]);
  });

  it('keeps the node spec and lease it was given', async () => {
    const cluster = new MemoryCluster();
    const spec = {
      name: 'anex-runpod',
      provider: 'runpod',
      labels: { 'node-provider': 'runpod' },
      taints: [],
      capacity: { pods: '1000' },
    } as const;
    await cluster.ensureNode(spec, { now: 5 });
    await cluster.renewNodeLease('anex-runpod', { now: 7, durationSeconds: 40 });
    expect(cluster.node('anex-runpod')).toEqual({ spec, readyHeartbeat: 5 });
    expect(cluster.lease('anex-runpod')).toEqual({ renewTime: 7, durationSeconds: 40 });
  });

  it('lists pods that are not yet scheduled under no node', async () => {
    const cluster = new MemoryCluster();
    cluster.addPod({ name: 'unscheduled', nodeName: null });
    expect(await cluster.listPods('anex-vastai')).toEqual([]);
    expect(cluster.pod('default', 'unscheduled')?.nodeName).toBeUndefined();
  });

  it('binds a pod as the scheduler would', async () => {
    const cluster = new MemoryCluster();
    const pod = cluster.addPod({ name: 'waiting', nodeName: null });
    cluster.bindPod(pod, 'anex-runpod');
    const [bound] = await cluster.listPods('anex-runpod');
    expect(bound?.uid).toBe(pod.uid);
    expect(bound?.status?.conditions).toEqual([{ type: 'PodScheduled', status: 'True' }]);
  });

  it('forgets everything on reset', async () => {
    const cluster = new MemoryCluster();
    const pod = cluster.addPod();
    await cluster.recordEvent(pod, { type: 'Normal', reason: 'Started', message: 'up' }, { now: 1 });
    cluster.failNext('getPod');
    cluster.reset();
    expect(await cluster.getPod('default', pod.name)).toBeUndefined();
    expect(cluster.events()).toEqual([]);
    expect(cluster.calls.getPod).toBe(1);
  });
});
