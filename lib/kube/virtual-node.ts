import { isIPv4 } from 'node:net';
import type { V1Node, V1NodeCondition, V1Taint } from '@kubernetes/client-node';
import type { ProviderName } from '../offers/offer.ts';
import type { VirtualNodeSpec } from './cluster.ts';
import { kubeTime, readTime } from './kube-time.ts';

/**
 * The shape of an anex virtual node (DESIGN §4), and the Node objects and status patches
 * KubeCluster sends for it. The labels and taints every anex node must carry are added
 * here whatever the spec says, so a pod's `node-provider` selector and toleration always
 * find them.
 */
/** The kubeletVersion reported while the API server's own version is unknown (kubeletVersionFor). */
export const KUBELET_VERSION = 'v1.33.0-anex';

/**
 * The kubeletVersion a virtual node reports: the API server's major.minor with patch 0 and the
 * `-anex` suffix — never newer than the API server (a kubelet newer than its API server breaks
 * the version skew policy, and upgrade checks and tools that read nodeInfo flag it), and never
 * far behind it either, so a cluster upgrade finds no node outside the skew. A prerelease of
 * x.y.0 sorts below every x.y.z the server can run. `server` is /version's gitVersion (vendors
 * add suffixes: v1.30.4-eks-a737599); unreadable → the KUBELET_VERSION constant.
 */
export function kubeletVersionFor(server: string | undefined): string {
  const match = /^v?(\d+)\.(\d+)(?:\.|$|[-+])/.exec(server ?? '');
  return match === null ? KUBELET_VERSION : `v${Number(match[1])}.${Number(match[2])}.0-anex`;
}

/** Large enough that the scheduler never runs out; the marketplace is the real limit. */
export const DEFAULT_CAPACITY: Readonly<Record<string, string>> = {
  pods: '1000',
  cpu: '10000',
  memory: '100Ti',
  'ephemeral-storage': '100Ti',
  'nvidia.com/gpu': '1000',
};

export const DEFAULT_DAEMON_PORT = 10250;

/** Taint keys anex owns; any other taint on the node (the lifecycle controller's) is left alone. */
export function requiredTaints(provider: ProviderName): V1Taint[] {
  return [
    { key: 'virtual-kubelet.io/provider', value: provider, effect: 'NoSchedule' },
    {
      key: 'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore',
      value: 'true',
      effect: 'NoSchedule',
    },
  ];
}

export function requiredLabels(node: Pick<VirtualNodeSpec, 'name' | 'provider'>): Record<string, string> {
  return {
    'node-provider': node.provider,
    type: 'virtual-kubelet',
    'kubernetes.io/role': 'agent',
    'kubernetes.io/hostname': node.name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    // Never a LoadBalancer backend: nothing on the virtual node serves a NodePort (kube audit
    // N4; as virtual-kubelet's ACI and InterLink providers do). Added to nodes registered
    // before, like every required label (labelsDiffer).
    'node.kubernetes.io/exclude-from-external-load-balancers': 'true',
  };
}

/** The standard spec for a provider's node; `capacity` and `internalIp` may be overridden. */
export function virtualNodeSpec(
  provider: ProviderName,
  name: string,
  options: { capacity?: Record<string, string>; internalIp?: string; daemonPort?: number } = {},
): VirtualNodeSpec {
  return {
    name,
    provider,
    labels: requiredLabels({ name, provider }),
    taints: requiredTaints(provider) as VirtualNodeSpec['taints'],
    capacity: options.capacity ?? DEFAULT_CAPACITY,
    daemonPort: options.daemonPort ?? DEFAULT_DAEMON_PORT,
    ...(options.internalIp === undefined ? {} : { internalIp: options.internalIp }),
  };
}

export function nodeLabels(spec: VirtualNodeSpec): Record<string, string> {
  return { ...spec.labels, ...requiredLabels(spec) };
}

/** Our taints plus every taint we do not own that is already on the node (kept as it is). */
export function nodeTaints(spec: VirtualNodeSpec, existing: readonly V1Taint[] = []): V1Taint[] {
  const ours = [...requiredTaints(spec.provider), ...spec.taints.map((t) => ({ ...t }))];
  const unique = ours.filter((t, i) => ours.findIndex((o) => o.key === t.key && o.effect === t.effect) === i);
  const others = existing.filter((t) => !unique.some((o) => o.key === t.key && o.effect === t.effect));
  return [...others, ...unique];
}

export function sameTaints(a: readonly V1Taint[], b: readonly V1Taint[]): boolean {
  const key = (t: V1Taint) => `${t.key}=${t.value ?? ''}:${t.effect}`;
  return a.length === b.length && a.map(key).sort().join() === b.map(key).sort().join();
}

/**
 * The node's `spec.providerID`. A cloud provider's node controller deletes a Node whose
 * provider ID its cloud does not know, or that has none once it is NotReady; an ID in a scheme
 * of our own is left alone (kube audit N8, as InterLink's `external:///<node>`). Set once: the API server
 * refuses a change.
 */
export function nodeProviderID(spec: VirtualNodeSpec): string {
  return `anex://${spec.provider}/${spec.name}`;
}

export function newNode(spec: VirtualNodeSpec): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: spec.name, labels: nodeLabels(spec) },
    spec: { taints: nodeTaints(spec), providerID: nodeProviderID(spec) },
  };
}

/**
 * The status subresource patch (strategic merge: conditions merge by type, addresses by
 * type). A condition keeps its transition time while its status stays the same, as kubelet
 * does; Ready set back to True after the lifecycle controller's Unknown is a transition.
 */
export function nodeStatusPatch(
  spec: VirtualNodeSpec,
  options: {
    now: number;
    existing: readonly V1NodeCondition[] | undefined;
    /** from kubeletVersionFor @default KUBELET_VERSION */
    kubeletVersion?: string;
  },
) {
  const now = kubeTime(options.now);
  const condition = (type: string, status: 'True' | 'False', reason: string, message: string) => {
    const old = options.existing?.find((c) => c.type === type && c.status === status);
    return {
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: readTime(old?.lastTransitionTime) ?? now,
    };
  };
  // The whole list is ours: `$patch: replace` drops an InternalIP no longer advertised (a
  // strategic merge would otherwise keep it, merging addresses by type). With a kubelet API
  // address the InternalIP is the only one, as virtual-kubelet publishes it: the API server's
  // default --kubelet-preferred-address-types puts Hostname first, and no DNS resolves the
  // node's name, so a Hostname beside it would send `kubectl logs` to a DNS error (audit N9).
  const addresses: { type?: string; address?: string; $patch?: 'replace' }[] = [
    { $patch: 'replace' },
    spec.internalIp === undefined
      ? { type: 'Hostname', address: spec.name }
      : { type: 'InternalIP', address: spec.internalIp },
  ];
  return {
    status: {
      capacity: { ...spec.capacity },
      allocatable: { ...spec.capacity },
      conditions: [
        condition('Ready', 'True', 'KubeletReady', 'anex virtual node is ready'),
        condition(
          'MemoryPressure',
          'False',
          'KubeletHasSufficientMemory',
          'no memory pressure on a virtual node',
        ),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'no disk pressure on a virtual node'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'no PID pressure on a virtual node'),
        condition(
          'NetworkUnavailable',
          'False',
          'RouteCreated',
          'pods reach the cluster through the anex tunnel',
        ),
      ],
      addresses,
      daemonEndpoints: { kubeletEndpoint: { Port: spec.daemonPort ?? DEFAULT_DAEMON_PORT } },
      nodeInfo: nodeInfo(spec, options.kubeletVersion ?? KUBELET_VERSION),
    },
  };
}

function nodeInfo(spec: VirtualNodeSpec, kubeletVersion: string) {
  return {
    machineID: spec.name,
    systemUUID: spec.name,
    bootID: '',
    kernelVersion: '',
    osImage: `anex virtual node (${spec.provider})`,
    containerRuntimeVersion: `anex://${spec.provider}`,
    kubeletVersion,
    kubeProxyVersion: '',
    operatingSystem: 'linux',
    architecture: 'amd64',
  };
}

/** A kubelet API address is advertised this long after the gateway last reported it (ADR 0023 §3). */
export const KUBELET_ADDRESS_FRESH_MS = 10 * 60_000;

/** Where the kubelet API for the virtual nodes listens, as last reported (lib/state KubeletAddress). */
export interface ReportedKubeletAddress {
  ip: string;
  port: number;
  /** epoch ms */
  reportedAt: number;
}

/**
 * `<ipv4>:<port>` (port 1–65535) as the gateway reports it (X-Anex-Kubelet-Address) and
 * `anex run --kubelet-address` takes it; undefined for anything else.
 */
export function parseKubeletAddress(text: string): { ip: string; port: number } | undefined {
  const match = /^([0-9.]{7,15}):([0-9]{1,5})$/.exec(text.trim());
  if (match === null) return undefined;
  const [, ip = '', digits = ''] = match;
  const port = Number(digits);
  if (!isIPv4(ip) || port < 1 || port > 65_535) return undefined;
  return { ip, port };
}

/**
 * The node as the heartbeat publishes it (ADR 0023 §3, kube audit N9): with a kubelet API
 * address reported less than {@link KUBELET_ADDRESS_FRESH_MS} ago, InternalIP = its IP and the
 * kubelet endpoint port = its port, so the API server dials it for logs and exec; otherwise the
 * spec as configured (Hostname only, unless `anex run --kubelet-address` set one).
 */
export function advertisedNode(
  spec: VirtualNodeSpec,
  address: ReportedKubeletAddress | undefined,
  now: number,
): VirtualNodeSpec {
  if (address === undefined || now - address.reportedAt >= KUBELET_ADDRESS_FRESH_MS) return spec;
  return { ...spec, internalIp: address.ip, daemonPort: address.port };
}

/** Whether the node lacks or differs on any label anex requires. */
export function labelsDiffer(current: V1Node, node: VirtualNodeSpec): boolean {
  const labels = current.metadata?.labels ?? {};
  return Object.entries(nodeLabels(node)).some(([key, value]) => labels[key] !== value);
}
