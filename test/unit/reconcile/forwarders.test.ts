import { describe, expect, it } from 'vitest';
import type { LabelledPod, PodView } from '../../../lib/kube/cluster.ts';
import { MemoryCluster, type PodInput } from '../../../lib/kube/memory-cluster.ts';
import {
  FORWARDER_GC_GRACE_MS,
  FORWARDER_POD_UID_LABEL,
  FORWARDS_FOR_ANNOTATION,
  type ForwardCandidate,
  type ForwardingConfig,
  forwarderManifest,
  forwarderName,
  forwardPorts,
  planForwarders,
  syncForwarders,
  wantsForwarder,
} from '../../../lib/reconcile/forwarders.ts';

const config: ForwardingConfig = {
  namespace: 'anex',
  image: 'ghcr.io/anex/gateway:1',
  kubeletUrl: 'https://anex-kubelet.anex.svc:10250',
  serviceAccount: 'anex-forwarder',
  audience: 'anex-kubelet',
};
const NOW = Date.parse('2026-03-01T12:00:00Z');

function aView(overrides: Partial<PodView> = {}): PodView {
  return {
    namespace: 'default',
    name: 'vllm-0',
    uid: 'u1',
    annotations: {},
    labels: {},
    nodeSelector: {},
    containers: [{ name: 'main', image: 'vllm:1', env: {}, ports: [8000] }],
    restartPolicy: 'Always',
    phase: 'Running',
    status: { phase: 'Running', conditions: [], containerStatuses: [] },
    ...overrides,
  };
}

function aForwarder(uid: string, overrides: Partial<LabelledPod> = {}): LabelledPod {
  return {
    namespace: 'anex',
    name: forwarderName(uid),
    uid: `fwd-${uid}`,
    labels: { [FORWARDER_POD_UID_LABEL]: uid, 'app.kubernetes.io/name': 'anex-forwarder' },
    annotations: {},
    phase: 'Running',
    podIP: '10.244.1.7',
    creationTimestamp: '2026-03-01T11:00:00Z',
    ...overrides,
  };
}

const launched = (view: PodView): ForwardCandidate => ({ view, launched: true });

describe('forwardPorts', () => {
  it.each<[string, Partial<PodView>, unknown[]]>([
    ['none declared', { containers: [{ name: 'main', image: 'i', env: {} }] }, []],
    [
      'the app container’s, with names',
      {
        containers: [{ name: 'main', image: 'i', env: {}, ports: [8000, 9000], portNames: { 8000: 'http' } }],
      },
      [{ port: 8000, name: 'http' }, { port: 9000 }],
    ],
    [
      'a sidecar’s too, each port once; a plain init container’s not',
      {
        containers: [{ name: 'main', image: 'i', env: {}, ports: [8000] }],
        initContainers: [
          { name: 'setup', image: 'i', env: {}, ports: [7000] },
          { name: 'proxy', image: 'i', env: {}, ports: [8000, 8443], sidecar: true },
        ],
      },
      [{ port: 8000 }, { port: 8443 }],
    ],
    [
      'a name used twice kept once',
      {
        containers: [
          { name: 'a', image: 'i', env: {}, ports: [80], portNames: { 80: 'web' } },
          { name: 'b', image: 'i', env: {}, ports: [81], portNames: { 81: 'web' } },
        ],
      },
      [{ port: 80, name: 'web' }, { port: 81 }],
    ],
  ])('%s', (_, overrides, expected) => {
    expect(forwardPorts(aView(overrides))).toEqual(expected);
  });
});

describe('wantsForwarder', () => {
  it.each<[string, ForwardCandidate, boolean]>([
    ['a launched running pod with ports', launched(aView()), true],
    ['a pending launched pod (machine starting)', launched(aView({ phase: 'Pending' })), true],
    ['not launched yet', { view: aView(), launched: false }, false],
    ['being deleted', launched(aView({ deletionTimestamp: '2026-03-01T12:00:00Z' })), false],
    ['Succeeded', launched(aView({ phase: 'Succeeded' })), false],
    ['Failed', launched(aView({ phase: 'Failed' })), false],
    ['no declared ports', launched(aView({ containers: [{ name: 'main', image: 'i', env: {} }] })), false],
  ])('%s: %s', (_, candidate, wanted) => {
    expect(wantsForwarder(candidate)).toBe(wanted);
  });
});

describe('forwarderManifest', () => {
  it('is the contract’s pod: labels, token, args, ports, no privileges', () => {
    const view = aView({
      containers: [{ name: 'main', image: 'i', env: {}, ports: [80, 9000], portNames: { 80: 'http' } }],
    });
    const manifest = forwarderManifest(config, view);
    expect(manifest.metadata).toEqual({
      name: 'anex-fwd-u1',
      namespace: 'anex',
      labels: { 'anex.sh/forwarder-for': 'u1', 'app.kubernetes.io/name': 'anex-forwarder' },
      annotations: { 'anex.sh/forwards-for': 'default/vllm-0' },
    });
    const spec = manifest.spec as { containers: { resources?: { requests?: object; limits?: object } }[] };
    expect(spec).toMatchObject({
      serviceAccountName: 'anex-forwarder',
      automountServiceAccountToken: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
        sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }],
      },
      volumes: [
        {
          name: 'token',
          projected: {
            sources: [
              { serviceAccountToken: { audience: 'anex-kubelet', expirationSeconds: 3600, path: 'token' } },
            ],
          },
        },
      ],
    });
    expect(spec.containers).toHaveLength(1);
    expect(spec.containers[0]).toMatchObject({
      name: 'forward',
      image: 'ghcr.io/anex/gateway:1',
      command: ['anex-kubelet'],
      args: [
        'forward',
        '--pod-uid',
        'u1',
        '--ports',
        '80,9000',
        '--kubelet-url',
        'https://anex-kubelet.anex.svc:10250',
        '--token-file',
        '/var/run/secrets/anex-forwarder/token',
      ],
      ports: [
        { containerPort: 80, protocol: 'TCP', name: 'http' },
        { containerPort: 9000, protocol: 'TCP' },
      ],
      readinessProbe: { tcpSocket: { port: 80 } },
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
      volumeMounts: [{ name: 'token', mountPath: '/var/run/secrets/anex-forwarder', readOnly: true }],
    });
    expect(spec.containers[0]?.resources?.requests).toBeDefined();
    expect(spec.containers[0]?.resources?.limits).toBeDefined();
  });
});

describe('planForwarders', () => {
  const plan = (
    pods: ForwardCandidate[],
    existing: LabelledPod[],
    options: { full?: boolean; now?: number } = {},
  ) => {
    const out = planForwarders({
      config,
      pods,
      existing,
      full: options.full ?? true,
      now: options.now ?? NOW,
    });
    return {
      create: out.create.map((m) => m.metadata.name),
      delete: out.delete.map((f) => f.name),
      address: out.address.map((a) => `${a.pod.name}=${a.ip}`),
    };
  };
  const young = { creationTimestamp: new Date(NOW - FORWARDER_GC_GRACE_MS + 1_000).toISOString() };

  it.each<[string, ForwardCandidate[], LabelledPod[], { full?: boolean }, ReturnType<typeof plan>]>([
    [
      'creates one for a wanted pod without',
      [launched(aView())],
      [],
      {},
      { create: ['anex-fwd-u1'], delete: [], address: [] },
    ],
    [
      'creates none for a pod not launched',
      [{ view: aView(), launched: false }],
      [],
      {},
      { create: [], delete: [], address: [] },
    ],
    [
      'addresses the pod once its forwarder runs with an IP',
      [launched(aView())],
      [aForwarder('u1')],
      {},
      { create: [], delete: [], address: ['vllm-0=10.244.1.7'] },
    ],
    [
      'writes nothing when the pod shows that IP already',
      [
        launched(
          aView({ status: { phase: 'Running', conditions: [], containerStatuses: [], podIP: '10.244.1.7' } }),
        ),
      ],
      [aForwarder('u1')],
      {},
      { create: [], delete: [], address: [] },
    ],
    [
      'writes a recreated forwarder’s new IP',
      [
        launched(
          aView({ status: { phase: 'Running', conditions: [], containerStatuses: [], podIP: '10.244.9.9' } }),
        ),
      ],
      [aForwarder('u1')],
      {},
      { create: [], delete: [], address: ['vllm-0=10.244.1.7'] },
    ],
    [
      'waits for a pending forwarder, or one without an IP',
      [launched(aView()), launched(aView({ uid: 'u2', name: 'vllm-1' }))],
      [aForwarder('u1', { phase: 'Pending' }), aForwarder('u2', { podIP: undefined as never })],
      {},
      { create: [], delete: [], address: [] },
    ],
    [
      'deletes a failed forwarder (recreated next pass)',
      [launched(aView())],
      [aForwarder('u1', { phase: 'Failed' })],
      {},
      { create: [], delete: ['anex-fwd-u1'], address: [] },
    ],
    [
      'deletes the forwarder of a pod no longer wanted',
      [launched(aView({ phase: 'Succeeded' }))],
      [aForwarder('u1')],
      {},
      { create: [], delete: ['anex-fwd-u1'], address: [] },
    ],
    [
      'deletes one whose pod is gone, in a full pass',
      [],
      [aForwarder('gone')],
      {},
      { create: [], delete: ['anex-fwd-gone'], address: [] },
    ],
    [
      'keeps a young one whose pod this pass did not see',
      [],
      [aForwarder('new', young)],
      {},
      { create: [], delete: [], address: [] },
    ],
    [
      'leaves other pods’ forwarders alone in a per-pod pass',
      [launched(aView())],
      [aForwarder('other')],
      { full: false },
      { create: ['anex-fwd-u1'], delete: [], address: [] },
    ],
    [
      'handles its own pod in a per-pod pass',
      [launched(aView({ deletionTimestamp: '2026-03-01T12:00:00Z' }))],
      [aForwarder('u1')],
      { full: false },
      { create: [], delete: ['anex-fwd-u1'], address: [] },
    ],
    [
      'neither deletes again nor recreates one being deleted',
      [launched(aView())],
      [aForwarder('u1', { deletionTimestamp: '2026-03-01T11:59:00Z', phase: 'Running' })],
      {},
      { create: [], delete: [], address: [] },
    ],
  ])('%s', (_, pods, existing, options, expected) => {
    expect(plan(pods, existing, options)).toEqual(expected);
  });
});

describe('syncForwarders', () => {
  function anexPod(cluster: MemoryCluster, input: PodInput = {}): PodView {
    return cluster.addPod({
      uid: 'u1',
      name: 'vllm-0',
      containers: [{ name: 'main', ports: [8000] }],
      ...input,
    });
  }

  it('creates, then addresses, then deletes a forwarder over a pod’s life', async () => {
    const cluster = new MemoryCluster();
    const view = anexPod(cluster);
    const sync = async () => {
      const current = cluster.pod('default', 'vllm-0');
      const pods = current === undefined ? [] : [launched(current)];
      return syncForwarders(cluster, config, pods, { now: NOW, full: true });
    };
    expect(await sync()).toEqual({ created: ['anex-fwd-u1'], deleted: [], addressed: [], errors: [] });
    const made = cluster.createdPod('anex', 'anex-fwd-u1');
    expect(made?.manifest.metadata.annotations?.[FORWARDS_FOR_ANNOTATION]).toBe('default/vllm-0');
    expect(await sync()).toEqual({ created: [], deleted: [], addressed: [], errors: [] });
    cluster.setCreatedPodStatus('anex', 'anex-fwd-u1', { phase: 'Running', podIP: '10.244.0.5' });
    expect(await sync()).toEqual({ created: [], deleted: [], addressed: ['default/vllm-0'], errors: [] });
    expect(cluster.pod('default', 'vllm-0')?.status?.podIP).toBe('10.244.0.5');
    expect(await sync()).toMatchObject({ addressed: [] });
    cluster.removePod(view);
    expect(await sync()).toEqual({ created: [], deleted: ['anex-fwd-u1'], addressed: [], errors: [] });
    expect(cluster.createdPod('anex', 'anex-fwd-u1')).toBeUndefined();
  });

  it('reports a failed list as an error and does nothing else', async () => {
    const cluster = new MemoryCluster();
    const view = anexPod(cluster);
    cluster.failNext('listLabelledPods');
    const result = await syncForwarders(cluster, config, [launched(view)], { now: NOW, full: true });
    expect(result.errors).toEqual([
      expect.objectContaining({ scope: 'list forwarders in namespace anex', kind: 'unavailable' }),
    ]);
    expect(cluster.calls.createPod).toBe(0);
  });

  it('keeps going past one pod’s failed create', async () => {
    const cluster = new MemoryCluster();
    const a = anexPod(cluster);
    const b = anexPod(cluster, { uid: 'u2', name: 'vllm-1' });
    cluster.failNext('createPod');
    const result = await syncForwarders(cluster, config, [launched(a), launched(b)], {
      now: NOW,
      full: true,
    });
    expect(result.created).toEqual(['anex-fwd-u2']);
    expect(result.errors.map((e) => e.scope)).toEqual(['create forwarder anex/anex-fwd-u1']);
  });
});
