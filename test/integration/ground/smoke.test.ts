import { readFileSync } from 'node:fs';
import { CoreV1Api, KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  controlPlane,
  createTestNamespace,
  eventually,
  NODE_MONITOR,
  type RegisteredVirtualNode,
  registerVirtualNode,
  type TestNamespace,
} from '../../support/index.ts';

// Proves the test ground is a real cluster: the real kube-scheduler binds the seed's example
// pod to an anex-like virtual node, and the real controller-manager's node-lifecycle
// controller reacts to its Lease. Grace periods shortened for speed (controller-manager
// flags, see test/support/control-plane-args.ts NODE_MONITOR): --node-monitor-period=2s
// (default 5s) and --node-monitor-grace-period=20s (default 50s).

const seedPod = (): V1Pod =>
  parse(
    readFileSync(new URL('../../fixtures/pods/seed-example-vastai.yaml', import.meta.url), 'utf8'),
  ) as V1Pod;

const readyCondition = (node: V1Node) => node.status?.conditions?.find((c) => c.type === 'Ready');
const taintKeys = (node: V1Node) => (node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`);

describe('control plane smoke', () => {
  let ns: TestNamespace;
  let node: RegisteredVirtualNode;
  let core: CoreV1Api;

  beforeAll(async () => {
    ns = await createTestNamespace('smoke');
    core = ns.core;
    node = await registerVirtualNode(ns.kubeConfig, { provider: 'vastai', heartbeatMs: 3_000 });
  });

  afterAll(async () => {
    await node?.remove();
    await ns?.remove();
  });

  it('runs the versions the build pins', () => {
    expect(controlPlane().versions).toEqual({ kubernetes: 'v1.33.13', etcd: '3.5.21' });
  });

  it('registers the virtual node with its labels, taints, GPUs and a Ready condition', async () => {
    const registered = await core.readNode({ name: 'anex-vastai' });
    expect(registered.metadata?.labels).toMatchObject({ 'node-provider': 'vastai', type: 'virtual-kubelet' });
    expect(taintKeys(registered)).toEqual(
      expect.arrayContaining([
        'virtual-kubelet.io/provider:NoSchedule',
        'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore:NoSchedule',
      ]),
    );
    expect(registered.status?.allocatable?.['nvidia.com/gpu']).toBe('8');
    expect(readyCondition(registered)?.status).toBe('True');
  });

  it('the scheduler binds the seed example pod to the virtual node', async () => {
    await core.createNamespacedPod({ namespace: ns.name, body: seedPod() });
    const bound = await waitForBinding('my-gpu-workload');
    expect(bound.spec?.nodeName).toBe('anex-vastai');
  });

  it('the scheduler leaves a pod without the tolerations unscheduled, naming the taint', async () => {
    const pod = seedPod();
    pod.metadata = { ...pod.metadata, name: 'no-tolerations' };
    delete pod.spec?.tolerations;
    await core.createNamespacedPod({ namespace: ns.name, body: pod });
    const condition = await eventually(
      async () => {
        const current = await core.readNamespacedPod({ name: 'no-tolerations', namespace: ns.name });
        return current.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
      },
      { what: 'PodScheduled=False on no-tolerations' },
    );
    expect(condition.reason).toBe('Unschedulable');
    expect(condition.message).toContain('untolerated taint');
    const after = await core.readNamespacedPod({ name: 'no-tolerations', namespace: ns.name });
    expect(after.spec?.nodeName).toBeUndefined();
  });

  it('a pod status written through the status subresource is seen by a second client', async () => {
    const pod = seedPod();
    pod.metadata = { ...pod.metadata, name: 'status-update' };
    await core.createNamespacedPod({ namespace: ns.name, body: pod });
    const bound = await waitForBinding('status-update');
    bound.status = {
      ...bound.status,
      phase: 'Running',
      podIP: '10.244.0.7',
      conditions: [
        ...(bound.status?.conditions ?? []),
        { type: 'Ready', status: 'True', lastTransitionTime: new Date() },
      ],
    };
    await core.replaceNamespacedPodStatus({ name: 'status-update', namespace: ns.name, body: bound });

    const second = new KubeConfig();
    second.loadFromFile(controlPlane().kubeconfigPath);
    const seen = await second
      .makeApiClient(CoreV1Api)
      .readNamespacedPodStatus({ name: 'status-update', namespace: ns.name });
    expect(seen.status?.phase).toBe('Running');
    expect(seen.status?.podIP).toBe('10.244.0.7');
    expect(seen.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  // Last: it leaves the node NotReady.
  it('the controller-manager marks the node Ready=Unknown once its Lease is no longer renewed', async () => {
    node.stopHeartbeat();
    const unknown = await eventually(
      async () => {
        const current = await core.readNode({ name: 'anex-vastai' });
        return readyCondition(current)?.status === 'Unknown' ? current : undefined;
      },
      { what: 'node anex-vastai Ready=Unknown', timeoutMs: (NODE_MONITOR.gracePeriodSeconds + 60) * 1_000 },
    );
    expect(readyCondition(unknown)?.reason).toBe('NodeStatusUnknown');
    // Only the NoSchedule taint: with every node of the cluster (zone) NotReady the
    // controller enters "master disruption mode" and withholds the NoExecute taint that
    // would evict pods; that needs another Ready node in the zone.
    const tainted = await eventually(
      async () => {
        const keys = taintKeys(await core.readNode({ name: 'anex-vastai' }));
        return keys.includes('node.kubernetes.io/unreachable:NoSchedule') ? keys : undefined;
      },
      { what: 'unreachable taint on anex-vastai' },
    );
    expect(tainted).toContain('virtual-kubelet.io/provider:NoSchedule');
  });

  async function waitForBinding(name: string): Promise<V1Pod> {
    return eventually(
      async () => {
        const pod = await core.readNamespacedPod({ name, namespace: ns.name });
        return pod.spec?.nodeName === undefined ? undefined : pod;
      },
      {
        what: `pod ${name} bound to a node`,
        describe: async () => {
          const pod = await core.readNamespacedPod({ name, namespace: ns.name });
          return JSON.stringify(pod.status?.conditions ?? []);
        },
      },
    );
  }
});
