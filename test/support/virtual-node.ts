import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Lease,
  V1MicroTime,
  type V1Node,
} from '@kubernetes/client-node';

/** What makes a Node look like anex's virtual node (virtual-kubelet style). */
export interface VirtualNodeSpec {
  /** provider label/taint value, e.g. the seed's `vastai` */
  provider: string;
  /** @default `anex-<provider>` */
  name?: string;
  /** allocatable nvidia.com/gpu @default 8 */
  gpus?: number;
}

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** virtual-kubelet's lease duration */
const LEASE_SECONDS = 40;

/** Builder of anex's virtual Node: provider label + taints, GPU allocatable, Ready=True. */
export function aVirtualNode(spec: VirtualNodeSpec): V1Node {
  const name = spec.name ?? `anex-${spec.provider}`;
  const now = new Date();
  const resources = {
    cpu: '256',
    memory: '2Ti',
    pods: '1000',
    'nvidia.com/gpu': String(spec.gpus ?? 8),
    'ephemeral-storage': '10Ti',
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'node-provider': spec.provider,
        type: 'virtual-kubelet',
        'kubernetes.io/role': 'agent',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
      },
    },
    spec: {
      taints: [
        { key: 'virtual-kubelet.io/provider', value: spec.provider, effect: 'NoSchedule' },
        {
          key: 'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore',
          value: 'true',
          effect: 'NoSchedule',
        },
      ],
    },
    status: {
      capacity: resources,
      allocatable: resources,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'anex virtual node is ready',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'v1.33.13-anex',
        kubeProxyVersion: '',
        containerRuntimeVersion: 'anex://0',
        bootID: '',
        kernelVersion: '',
        machineID: '',
        osImage: '',
        systemUUID: '',
      },
    },
  };
}

/** The node's heartbeat Lease in kube-node-lease, owned by the Node (deleted with it). */
export function aNodeLease(node: V1Node): V1Lease {
  const name = node.metadata?.name ?? '';
  const now = new V1MicroTime();
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace: NODE_LEASE_NAMESPACE,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata?.uid ?? '' }],
    },
    spec: { holderIdentity: name, leaseDurationSeconds: LEASE_SECONDS, acquireTime: now, renewTime: now },
  };
}

/** A registered virtual node whose Lease is renewed until `stopHeartbeat()`. */
export interface RegisteredVirtualNode {
  readonly name: string;
  /** Stops renewing the Lease: the controller-manager will mark the node Ready=Unknown. */
  stopHeartbeat(): void;
  /** Stops the heartbeat and deletes the Node (its Lease goes with it). Idempotent. */
  remove(): Promise<void>;
}

/**
 * Creates the Node (status included, as a kubelet registers) and its Lease, then renews the
 * Lease every `heartbeatMs` — keep it well below the controller-manager's grace period.
 */
export async function registerVirtualNode(
  kubeConfig: KubeConfig,
  spec: VirtualNodeSpec & { heartbeatMs?: number },
): Promise<RegisteredVirtualNode> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const leases = kubeConfig.makeApiClient(CoordinationV1Api);
  const node = await core.createNode({ body: aVirtualNode(spec) });
  const name = node.metadata?.name ?? '';
  await leases.createNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, body: aNodeLease(node) });
  const timer = setInterval(() => {
    renewLease(leases, name).catch(() => {
      // A missed renewal is what the node-lifecycle tolerates; the next tick retries.
    });
  }, spec.heartbeatMs ?? 5_000);
  const stopHeartbeat = (): void => clearInterval(timer);
  return {
    name,
    stopHeartbeat,
    async remove() {
      stopHeartbeat();
      await core.deleteNode({ name }).catch((error: { code?: number }) => {
        if (error.code !== 404) throw error;
      });
    },
  };
}

async function renewLease(leases: CoordinationV1Api, name: string): Promise<void> {
  const lease = await leases.readNamespacedLease({ name, namespace: NODE_LEASE_NAMESPACE });
  lease.spec = { ...lease.spec, renewTime: new V1MicroTime() };
  await leases.replaceNamespacedLease({ name, namespace: NODE_LEASE_NAMESPACE, body: lease });
}
