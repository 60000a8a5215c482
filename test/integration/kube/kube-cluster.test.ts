import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Node,
  type V1Pod,
  VersionApi,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PodRef } from '../../../lib/kube/cluster.ts';
import { runHeartbeat } from '../../../lib/kube/heartbeat.ts';
import { KubeCluster } from '../../../lib/kube/kube-cluster.ts';
import { kubeletVersionFor, virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';
import { adminKubeConfig, createTestNamespace, eventually, type TestNamespace } from '../../support/index.ts';
import {
  aRunningStatus,
  type ClusterHarness,
  describeClusterContract,
  type HarnessPod,
} from '../../unit/kube/cluster-contract.ts';

// KubeCluster against the real kube-apiserver, kube-scheduler and kube-controller-manager of
// the test ground. One virtual node for the file (unique name, removed at the end), kept
// Ready by runHeartbeat itself while the tests run.

const nodeName = `anex-it-${randomBytes(3).toString('hex')}`;
const spec = virtualNodeSpec('vastai', nodeName, { internalIp: '10.99.255.1' });
let kubeConfig: KubeConfig;
let cluster: KubeCluster;
let core: CoreV1Api;
const heartbeat = new AbortController();
let heartbeatDone: Promise<unknown>;

beforeAll(async () => {
  kubeConfig = adminKubeConfig();
  cluster = new KubeCluster({ kubeConfig });
  core = kubeConfig.makeApiClient(CoreV1Api);
  await cluster.ensureNode(spec, { now: Date.now() });
  heartbeatDone = runHeartbeat({
    cluster,
    nodes: [spec],
    intervalMs: 3_000,
    until: Date.now() + 3_600_000,
    signal: heartbeat.signal,
    now: Date.now,
  });
});

afterAll(async () => {
  heartbeat.abort();
  await heartbeatDone;
  await core?.deleteNode({ name: nodeName }).catch((error: { code?: number }) => {
    if (error.code !== 404) throw error;
  });
});

function podBody(namespace: string, input: HarnessPod & { bound?: boolean }): V1Pod {
  const env = [
    ...Object.entries(input.env ?? {}).map(([name, value]) => ({ name, value })),
    ...(input.envFrom ?? []).map((name) => ({
      name,
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    })),
  ];
  return {
    metadata: { name: input.name, namespace, annotations: input.annotations ?? {} },
    spec: {
      ...(input.bound === false ? {} : { nodeName }),
      nodeSelector: { 'node-provider': 'vastai', 'kubernetes.io/hostname': nodeName },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
        {
          key: 'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore',
          operator: 'Exists',
          effect: 'NoSchedule',
        },
      ],
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'ghcr.io/example/trainer:1',
          env,
          ...(input.gpuLimit === undefined
            ? {}
            : { resources: { limits: { 'nvidia.com/gpu': String(input.gpuLimit) } } }),
        },
      ],
    },
  };
}

async function createPod(ns: TestNamespace, input: HarnessPod & { bound?: boolean }): Promise<PodRef> {
  const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: podBody(ns.name, input) });
  return { namespace: ns.name, name: input.name, uid: created.metadata?.uid ?? '' };
}

async function eventsOf(ns: TestNamespace, pod: PodRef) {
  const list = await ns.core.listNamespacedEvent({
    namespace: ns.name,
    fieldSelector: `involvedObject.uid=${pod.uid}`,
  });
  return list.items.map((e) => ({
    reason: e.reason ?? '',
    message: e.message ?? '',
    count: e.count ?? 0,
    event: e,
  }));
}

async function kubeHarness(): Promise<ClusterHarness> {
  const ns = await createTestNamespace('kube-cluster');
  return {
    cluster,
    nodeName,
    namespace: ns.name,
    addPod: (input) => createPod(ns, input),
    async requestDeletion(pod) {
      await ns.core.deleteNamespacedPod({ namespace: pod.namespace, name: pod.name });
    },
    async addEnvSource(kind, name, data) {
      if (kind === 'ConfigMap') {
        await ns.core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name }, data } });
      } else {
        // stringData: the API server stores it base64-encoded in data, as kubectl create secret does.
        await ns.core.createNamespacedSecret({
          namespace: ns.name,
          body: { metadata: { name }, stringData: data },
        });
      }
    },
    events: (pod) => eventsOf(ns, pod),
    dispose: () => ns.remove(),
  };
}

describeClusterContract('KubeCluster on the real control plane', kubeHarness);

const ready = (node: V1Node) => node.status?.conditions?.find((c) => c.type === 'Ready');

describe('KubeCluster on the real control plane', () => {
  it('registers the virtual node as a kubelet would', async () => {
    const node = await core.readNode({ name: nodeName });
    expect(node.metadata?.labels).toMatchObject({
      'node-provider': 'vastai',
      type: 'virtual-kubelet',
      'kubernetes.io/role': 'agent',
      'kubernetes.io/hostname': nodeName,
    });
    expect(node.spec?.taints).toEqual(
      expect.arrayContaining([
        { key: 'virtual-kubelet.io/provider', value: 'vastai', effect: 'NoSchedule' },
        {
          key: 'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore',
          value: 'true',
          effect: 'NoSchedule',
        },
      ]),
    );
    // A provider ID in a scheme of our own: no cloud node controller deletes the node (#13).
    expect(node.spec?.providerID).toBe(`anex://vastai/${nodeName}`);
    // the API server canonicalizes quantities: 1000 → 1k
    expect(node.status?.allocatable).toMatchObject({ pods: '1k', 'nvidia.com/gpu': '1k', memory: '100Ti' });
    expect(node.status?.capacity).toEqual(node.status?.allocatable);
    expect(ready(node)?.status).toBe('True');
    expect(node.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(
      expect.arrayContaining(['MemoryPressure=False', 'DiskPressure=False', 'PIDPressure=False']),
    );
    expect(node.status?.addresses).toEqual([{ type: 'InternalIP', address: '10.99.255.1' }]);
    expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(10250);
    // The API server's major.minor (the ground runs v1.33.x), never newer than it.
    const server = await kubeConfig.makeApiClient(VersionApi).getCode();
    expect(node.status?.nodeInfo?.kubeletVersion).toBe(kubeletVersionFor(server.gitVersion));
    expect(node.status?.nodeInfo?.kubeletVersion).toBe(`v${server.major}.${server.minor}.0-anex`);
    expect(node.metadata?.labels?.['node.kubernetes.io/exclude-from-external-load-balancers']).toBe('true');
    expect(node.status?.nodeInfo).toMatchObject({
      operatingSystem: 'linux',
      architecture: 'amd64',
    });
  });

  it('lets the node-lifecycle controller lift the not-ready taint it was born with', async () => {
    await eventually(
      async () => {
        const node = await core.readNode({ name: nodeName });
        return node.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/')) ? undefined : node;
      },
      { what: `node ${nodeName} without node.kubernetes.io/* taints`, timeoutMs: 60_000 },
    );
  });

  it('is idempotent: ensureNode again changes no labels or taints and keeps Ready since', async () => {
    const before = await core.readNode({ name: nodeName });
    await cluster.ensureNode(spec, { now: Date.now() + 5_000 });
    const after = await core.readNode({ name: nodeName });
    expect(after.spec?.taints).toEqual(before.spec?.taints);
    expect(after.metadata?.labels).toEqual(before.metadata?.labels);
    expect(ready(after)?.lastTransitionTime).toEqual(ready(before)?.lastTransitionTime);
  });

  it('advertises the kubelet API address, and drops it once no longer given (ADR 0023 §3)', async () => {
    const other = virtualNodeSpec('vastai', `${nodeName}-k`);
    const addresses = async () => (await core.readNode({ name: other.name })).status;
    await cluster.ensureNode({ ...other, internalIp: '10.99.3.7', daemonPort: 10443 }, { now: Date.now() });
    // The InternalIP alone: the API server's default address order tries Hostname first (N9).
    expect((await addresses())?.addresses).toEqual([{ type: 'InternalIP', address: '10.99.3.7' }]);
    expect((await addresses())?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(10443);
    // A stale report: the list is replaced, so the old InternalIP goes (a merge would keep it).
    await cluster.ensureNode(other, { now: Date.now() });
    expect((await addresses())?.addresses).toEqual([{ type: 'Hostname', address: other.name }]);
    expect((await addresses())?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(10250);
    await core.deleteNode({ name: other.name });
  });

  it('restores a taint someone removed, keeping taints it does not own', async () => {
    const foreign = { key: 'example.com/maintenance', value: 'soon', effect: 'PreferNoSchedule' };
    const other = { ...spec, name: `${nodeName}-t` };
    await cluster.ensureNode(other, { now: Date.now() });
    try {
      // Someone else's edit, as kubectl would make it: read, change, replace — again on a 409,
      // since the node-lifecycle controller may update the fresh node in between.
      await eventually(
        async () => {
          const node = await core.readNode({ name: other.name });
          node.spec = { ...node.spec, taints: [foreign] };
          return core.replaceNode({ name: other.name, body: node }).then(
            () => true,
            (error: { code?: number }) => {
              if (error.code === 409) return undefined;
              throw error;
            },
          );
        },
        { what: 'the foreign taint written', timeoutMs: 30_000, intervalMs: 100 },
      );
      await cluster.ensureNode(other, { now: Date.now() });
      const taints = (await core.readNode({ name: other.name })).spec?.taints?.map((t) => t.key);
      expect(taints).toEqual(
        expect.arrayContaining([
          'example.com/maintenance',
          'virtual-kubelet.io/provider',
          'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore',
        ]),
      );
    } finally {
      await core.deleteNode({ name: other.name });
    }
  });

  it('registers a node twice at once (overlapping ticks) without failing either', async () => {
    const twin = { ...spec, name: `${nodeName}-twin` };
    try {
      const other = new KubeCluster({ kubeConfig: adminKubeConfig() });
      await Promise.all([
        cluster.ensureNode(twin, { now: Date.now() }),
        other.ensureNode(twin, { now: Date.now() }),
      ]);
      expect((await core.readNode({ name: twin.name })).metadata?.labels?.['node-provider']).toBe('vastai');
    } finally {
      await core.deleteNode({ name: twin.name });
    }
  });

  it('renews the node lease in kube-node-lease, owned by the node', async () => {
    const leases = kubeConfig.makeApiClient(CoordinationV1Api);
    const node = await core.readNode({ name: nodeName });
    const now = Date.now();
    await cluster.renewNodeLease(nodeName, { now, durationSeconds: 40 });
    const lease = await leases.readNamespacedLease({ name: nodeName, namespace: 'kube-node-lease' });
    expect(lease.spec).toMatchObject({ holderIdentity: nodeName, leaseDurationSeconds: 40 });
    expect(lease.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Node', name: nodeName, uid: node.metadata?.uid }),
    ]);
    expect(new Date(lease.spec?.renewTime ?? 0).getTime()).toBe(now);
  });

  it('sees the scheduler bind a tolerant pod to the virtual node', async () => {
    const ns = await createTestNamespace('bind');
    const ref = await createPod(ns, { name: 'scheduled', bound: false, gpuLimit: 1 });
    const bound = await eventually(
      async () => (await cluster.listPods(nodeName)).find((p) => p.uid === ref.uid),
      { what: `pod ${ref.name} bound to ${nodeName}` },
    );
    expect(bound).toMatchObject({ nodeName, phase: 'Pending' });
    expect(bound.containers[0]?.gpuLimit).toBe(1);
    expect(bound.status?.conditions).toContainEqual(
      expect.objectContaining({ type: 'PodScheduled', status: 'True' }),
    );
  });

  it('writes status a second client sees, keeping the scheduler condition', async () => {
    const ns = await createTestNamespace('status');
    const ref = await createPod(ns, { name: 'observed', bound: false });
    await eventually(async () => (await cluster.getPod(ns.name, 'observed'))?.nodeName, {
      what: 'pod bound',
    });
    expect(await cluster.updatePodStatus(ref, aRunningStatus())).toBe('updated');
    const second = new KubeConfig();
    second.loadFromString(adminKubeConfig().exportConfig());
    const pod = await second
      .makeApiClient(CoreV1Api)
      .readNamespacedPod({ namespace: ns.name, name: 'observed' });
    expect(pod.status?.phase).toBe('Running');
    expect(pod.status?.podIP).toBe('10.99.0.7');
    expect(pod.status?.podIPs).toEqual([{ ip: '10.99.0.7' }]);
    expect(pod.status?.containerStatuses?.[0]?.state?.running?.startedAt).toEqual(
      new Date('2026-11-26T18:00:00Z'),
    );
    expect(pod.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(
      expect.arrayContaining(['PodScheduled=True', 'anex.sh/Provisioned=True', 'Ready=True']),
    );
  });

  it('sets podIP and podIPs together, replacing the list on a change (ADR 0024)', async () => {
    const ns = await createTestNamespace('address');
    const ref = await createPod(ns, { name: 'addressed' });
    await cluster.updatePodStatus(ref, aRunningStatus());
    await cluster.setPodIP(ref, '10.244.1.7');
    await cluster.setPodIP(ref, '10.244.2.8');
    const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'addressed' });
    expect(pod.status?.podIP).toBe('10.244.2.8');
    expect(pod.status?.podIPs).toEqual([{ ip: '10.244.2.8' }]);
    expect(pod.status?.phase).toBe('Running');
    expect(pod.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(
      expect.arrayContaining(['anex.sh/Provisioned=True', 'Ready=True']),
    );
  });

  it('ends a container as terminated with its exit code, clearing the running state', async () => {
    const ns = await createTestNamespace('ended');
    const ref = await createPod(ns, { name: 'ended' });
    await cluster.updatePodStatus(ref, aRunningStatus());
    const running = aRunningStatus();
    const failed = {
      ...running,
      phase: 'Failed' as const,
      reason: 'Error',
      message: 'container exited with code 3',
      containerStatuses: [
        {
          name: 'main',
          image: 'ghcr.io/example/trainer:1',
          ready: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode: 3,
              reason: 'Error',
              startedAt: '2026-11-26T18:00:00Z',
              finishedAt: '2026-11-26T18:05:00Z',
            },
          },
        },
      ],
    };
    expect(await cluster.updatePodStatus(ref, failed)).toBe('updated');
    const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'ended' });
    expect(pod.status?.containerStatuses?.[0]?.state).toEqual({
      terminated: expect.objectContaining({ exitCode: 3, reason: 'Error' }),
    });
    expect((await cluster.getPod(ns.name, 'ended'))?.status).toMatchObject({
      phase: 'Failed',
      reason: 'Error',
      containerStatuses: failed.containerStatuses,
    });
  });

  it('records events as core/v1 Events from component anex, bumping the count', async () => {
    const ns = await createTestNamespace('events');
    const ref = await createPod(ns, { name: 'evented' });
    const event = { type: 'Normal', reason: 'OfferSelected', message: 'RTX 4090 at $0.40/h' } as const;
    await cluster.recordEvent(ref, event, { now: Date.now() - 60_000 });
    await cluster.recordEvent(ref, event, { now: Date.now() });
    const [only, ...rest] = await eventsOf(ns, ref);
    expect(rest).toEqual([]);
    expect(only?.count).toBe(2);
    expect(only?.event.source?.component).toBe('anex');
    expect(only?.event.involvedObject).toMatchObject({ kind: 'Pod', name: 'evented', uid: ref.uid });
    expect(only?.event.lastTimestamp?.getTime()).toBeGreaterThan(
      only?.event.firstTimestamp?.getTime() ?? Infinity,
    );
  });
});

describe('KubeCluster events under contention', () => {
  it('counts every one of concurrent identical events, and recreates one that expired', async () => {
    const ns = await createTestNamespace('contended');
    const ref = await createPod(ns, { name: 'busy' });
    const event = {
      type: 'Warning',
      reason: 'ProvisionFailed',
      message: 'host fault on machine 17',
    } as const;
    const other = new KubeCluster({ kubeConfig: adminKubeConfig() });
    await Promise.all([
      cluster.recordEvent(ref, event, { now: Date.now() }),
      other.recordEvent(ref, event, { now: Date.now() }),
    ]);
    expect((await eventsOf(ns, ref)).map((e) => e.count)).toEqual([2]);
    await ns.core.deleteCollectionNamespacedEvent({ namespace: ns.name });
    await cluster.recordEvent(ref, event, { now: Date.now() });
    expect((await eventsOf(ns, ref)).map((e) => e.count)).toEqual([1]);
  });
});

describe('KubeCluster errors', () => {
  it('reports a wrong token as auth', async () => {
    const admin = adminKubeConfig();
    const bad = new KubeConfig();
    bad.loadFromOptions({
      clusters: admin.getClusters(),
      users: [{ name: 'intruder', token: 'not-a-valid-token' }],
      contexts: [{ name: 'bad', cluster: admin.getCurrentCluster()?.name ?? '', user: 'intruder' }],
      currentContext: 'bad',
    });
    await expect(new KubeCluster({ kubeConfig: bad }).listPods(nodeName)).rejects.toMatchObject({
      kind: 'auth',
    });
  });

  it('reports an unreachable API server as unavailable and retryable', async () => {
    const gone = new KubeConfig();
    gone.loadFromOptions({
      clusters: [{ name: 'nowhere', server: 'https://127.0.0.1:9', skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'c', cluster: 'nowhere', user: 'u' }],
      currentContext: 'c',
    });
    await expect(new KubeCluster({ kubeConfig: gone }).getPod('default', 'x')).rejects.toMatchObject({
      kind: 'unavailable',
      retryable: true,
    });
  });

  it('gives up on an API server that never answers, as a retryable timeout', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket); // accept and say nothing
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const hung = new KubeConfig();
      hung.loadFromOptions({
        clusters: [
          // client-node refuses plain http unless TLS verification is explicitly off
          {
            name: 'hung',
            server: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
            skipTLSVerify: true,
          },
        ],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'c', cluster: 'hung', user: 'u' }],
        currentContext: 'c',
      });
      const slow = new KubeCluster({ kubeConfig: hung, requestTimeoutMs: 300 });
      await expect(slow.listPods(nodeName)).rejects.toMatchObject({ kind: 'timeout', retryable: true });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
