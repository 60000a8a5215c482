import type { ProviderName } from '../offers/offer.ts';
import type { ContainerResources, EnvFromSpec, EnvVarSpec } from './env.ts';
import type { Toleration } from './outage-tolerations.ts';
import type { ContainerProbes, HandlerSpec } from './probes.ts';
import type { MountView, VolumeView } from './volumes.ts';

/**
 * The Kubernetes side, as the reconciler sees it (in the spirit of virtual-kubelet's
 * PodLifecycleHandler, turned around: we observe and report, the API server stores).
 * Implemented over @kubernetes/client-node (lib/kube/kube-cluster.ts) and in memory
 * (lib/kube/memory-cluster.ts: unit tests).
 *
 * Contract:
 * - Reads are few and bounded: one list call per virtual node per pass, whatever the pod count.
 * - Writes to a pod are idempotent (status merge-patches, events deduplicated by reason and
 *   message with a count) and retried once with a fresh read on 409.
 * - "Not found" on a pod write means the pod is gone: returned as `'gone'`, not thrown.
 * - Other API errors throw an AnexError (auth → `auth`, 5xx/timeouts → `unavailable`).
 */
export interface Cluster {
  /** Creates the virtual node, or brings its labels, taints, capacity and Ready condition up to date. */
  ensureNode(node: VirtualNodeSpec, options: { now: number }): Promise<void>;
  /** Renews the node's Lease in kube-node-lease (creating it if missing). Cheap: one write. */
  renewNodeLease(nodeName: string, options: { now: number; durationSeconds: number }): Promise<void>;
  /** Pods bound to the node (field selector spec.nodeName), including those being deleted. */
  listPods(nodeName: string): Promise<PodView[]>;
  getPod(namespace: string, name: string): Promise<PodView | undefined>;
  /** Merge-patches status through the status subresource; `'gone'` if the pod (with this uid) no longer exists. */
  updatePodStatus(pod: PodRef, status: PodStatusUpdate): Promise<'updated' | 'gone'>;
  /**
   * Merge-patches annotations anex reports on the pod (e.g. `anex.sh/billed-price`); `'gone'`
   * if the pod (with this uid) no longer exists.
   */
  annotatePod(pod: PodRef, annotations: Readonly<Record<string, string>>): Promise<'updated' | 'gone'>;
  /** Records an Event on the pod (deduplicated: same reason + message bumps the count). */
  recordEvent(pod: PodRef, event: PodEvent, options: { now: number }): Promise<void>;
  /** Deletes the pod with grace period 0 and a uid precondition, after its instance is gone. */
  finalizePod(pod: PodRef): Promise<'deleted' | 'gone'>;
  /**
   * The string data of a Secret (decoded) or a ConfigMap (`data`) a pod's environment reads;
   * undefined when it does not exist. The values are secrets: the caller hands them to the
   * agent and keeps none of them. Forbidden (RBAC) throws an `auth` AnexError naming the
   * namespace.
   */
  readEnvSource(
    namespace: string,
    kind: 'Secret' | 'ConfigMap',
    name: string,
  ): Promise<Record<string, string> | undefined>;
  /**
   * Every key of a Secret (`data`) or ConfigMap (`data` and `binaryData`) as bytes, for a
   * volume the agent writes as files; undefined when it does not exist. Same rules as
   * {@link readEnvSource}: the values go to the agent only, and 403 names the namespace.
   */
  readSourceFiles(
    namespace: string,
    kind: 'Secret' | 'ConfigMap',
    name: string,
  ): Promise<Record<string, Uint8Array> | undefined>;
  /**
   * A pod's image pull Secret (spec.imagePullSecrets): its type, uid, resourceVersion and
   * string data (decoded); undefined when it does not exist. Same rules as
   * {@link readEnvSource}: the values are secrets (the image check and the provider's create
   * use them, nothing keeps them), and 403 names the namespace.
   */
  readPullSecret(namespace: string, name: string): Promise<SecretRead | undefined>;
  /**
   * Pods in `namespace` that carry the label `labelKey` (any value): the reconciler's own
   * pods off the virtual nodes (ADR 0024's forwarders), one list call. Needs `list pods` in
   * that namespace only.
   */
  listLabelledPods(namespace: string, labelKey: string): Promise<LabelledPod[]>;
  /** Creates a pod from a whole manifest; `'exists'` when its name is taken (an overlapping pass made it). */
  createPod(manifest: PodManifest): Promise<'created' | 'exists'>;
  /**
   * Deletes a pod (default grace) with a uid precondition; `'gone'` when it no longer exists
   * or the name is now another pod's.
   */
  deletePod(pod: PodRef): Promise<'deleted' | 'gone'>;
  /**
   * Sets only `status.podIP` and `status.podIPs` (`[{ip}]`), through the status subresource;
   * `'gone'` if the pod (with this uid) no longer exists. The API server accepts a changed
   * address (ADR 0024: validatePodIPs checks format and families only).
   */
  setPodIP(pod: PodRef, ip: string): Promise<'updated' | 'gone'>;
}

/** A pod as {@link Cluster.listLabelledPods} sees it: what deciding about it needs. */
export interface LabelledPod extends PodRef {
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  phase?: PodPhase;
  podIP?: string;
  /** RFC 3339, set once deletion was requested */
  deletionTimestamp?: string;
  /** RFC 3339 */
  creationTimestamp?: string;
}

/** A whole pod to create (core/v1 Pod as JSON); the spec is the caller's, passed through as is. */
export interface PodManifest {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: {
    name: string;
    namespace: string;
    labels: Readonly<Record<string, string>>;
    annotations?: Readonly<Record<string, string>>;
  };
  spec: Readonly<Record<string, unknown>>;
}

/** A Secret as {@link Cluster.readPullSecret} reads it. */
export interface SecretRead {
  type: string;
  uid: string;
  resourceVersion: string;
  data: Record<string, string>;
}

export interface VirtualNodeSpec {
  name: string;
  provider: ProviderName;
  labels: Readonly<Record<string, string>>;
  taints: readonly { key: string; value: string; effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule' }[];
  /** also used as allocatable, e.g. { pods: '1000', cpu: '10000', memory: '100Ti', 'nvidia.com/gpu': '1000' } */
  capacity: Readonly<Record<string, string>>;
  /** the kubelet API's port in node status (daemonEndpoints.kubeletEndpoint.Port) @default 10250 */
  daemonPort?: number;
  /**
   * InternalIP in node status: where the API server dials the kubelet API (ADR 0023), and the
   * address `kubectl get nodes -o wide` shows; absent: Hostname only (nothing answers there)
   */
  internalIp?: string;
}

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface ContainerView {
  name: string;
  image: string;
  command?: readonly string[];
  args?: readonly string[];
  /** spec.containers[].workingDir, when set (it replaces the image's WorkingDir) */
  workingDir?: string;
  /** the plain `value` entries, `$(VAR)`-expanded (what a launch without the agent can carry) */
  env: Readonly<Record<string, string>>;
  /**
   * The whole environment spec, in order, when it reads from elsewhere (`valueFrom`,
   * `envFrom`): resolved when the agent bootstraps (lib/kube/env.ts), never before.
   */
  envSpec?: { env: readonly EnvVarSpec[]; envFrom: readonly EnvFromSpec[] };
  /** env entries that cannot be given, worded for the user */
  envIssues?: readonly string[];
  /** requests and limits (resourceFieldRef reads them) */
  resources?: ContainerResources;
  /** limits.nvidia.com/gpu, when set */
  gpuLimit?: number;
  /** startup/readiness/liveness probes the agent runs (named ports resolved) */
  probes?: ContainerProbes;
  /** lifecycle.preStop, run by the agent before it stops the workload */
  preStop?: HandlerSpec;
  /** probe or lifecycle fields that cannot be run, worded for the user */
  lifecycleIssues?: readonly string[];
  /** volumeMounts the agent makes (the service-account token's left out) */
  mounts?: readonly MountView[];
  /** the declared TCP containerPorts, in order, each once (port-forward may reach only these; ADR 0023) */
  ports?: readonly number[];
  /** the names of those ports that have one, by number */
  portNames?: Readonly<Record<number, string>>;
}

/** An init container; `sidecar`: restartPolicy Always (runs alongside the app container). */
export interface InitContainerView extends ContainerView {
  sidecar?: boolean;
}

export interface PodView extends PodRef {
  nodeName?: string;
  annotations: Readonly<Record<string, string>>;
  labels: Readonly<Record<string, string>>;
  nodeSelector: Readonly<Record<string, string>>;
  containers: readonly ContainerView[];
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  /** RFC 3339, set when deletion was requested: the end of the grace period the API server gave */
  deletionTimestamp?: string;
  /** seconds of grace the deletion asked for (metadata.deletionGracePeriodSeconds) */
  deletionGracePeriodSeconds?: number;
  /** spec.terminationGracePeriodSeconds (the API server defaults it to 30) */
  terminationGracePeriodSeconds?: number;
  /** spec.activeDeadlineSeconds: the pod fails with DeadlineExceeded this long after its start */
  activeDeadlineSeconds?: number;
  creationTimestamp?: string;
  phase?: PodPhase;
  /** the current status, as last written (to avoid no-op writes) */
  status: PodStatusUpdate | undefined;
  /** spec.tolerations as stored (absent: none; lib/kube/pod-advisories.ts reads them) */
  tolerations?: readonly Toleration[];
  /** spec.serviceAccountName (a fieldRef may read it) */
  serviceAccountName?: string;
  /** the kind of the controlling ownerReference (`DaemonSet`, `ReplicaSet`, `Job`, …), when any */
  controllerKind?: string;
  /** spec.initContainers, in order (run by the agent before the app container) */
  initContainers?: readonly InitContainerView[];
  /** the volumes the agent can make (files and emptyDir) */
  volumes?: readonly VolumeView[];
  /** volumes never given to the machine (the service-account token's) */
  skippedVolumes?: readonly string[];
  /** what a rented machine cannot honour (lib/kube/pod-spec-support.ts), worded for the user */
  specIssues?: readonly string[];
  /** spec.imagePullSecrets, by name (read before renting: the image's registry login) */
  imagePullSecrets?: readonly string[];
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface PodCondition {
  /** e.g. PodScheduled, Initialized, ContainersReady, Ready, or anex's own 'anex.sh/Provisioned' */
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  /** RFC 3339 */
  lastTransitionTime?: string;
}

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | {
      terminated: {
        exitCode: number;
        reason?: string;
        message?: string;
        startedAt?: string;
        finishedAt?: string;
      };
    };

export interface ContainerStatusView {
  name: string;
  image: string;
  ready: boolean;
  restartCount: number;
  started?: boolean;
  state: ContainerState;
  /** the previous run's end (restarts in place, a lost machine) */
  lastState?: ContainerState;
  /** `anex://<provider>/<instance>` once a machine runs it */
  containerID?: string;
}

export interface PodStatusUpdate {
  phase: PodPhase;
  reason?: string;
  message?: string;
  conditions: readonly PodCondition[];
  containerStatuses: readonly ContainerStatusView[];
  /** init containers and sidecars, in the pod's order (absent: the pod has none) */
  initContainerStatuses?: readonly ContainerStatusView[];
  /** the pod's VPN address */
  podIP?: string;
  hostIP?: string;
  /** RFC 3339 */
  startTime?: string;
}

export type EventReason =
  | 'InvalidAnnotations'
  | 'UnsupportedPodSpec'
  | 'FailedMount'
  | 'FailedToRetrieveImagePullSecret'
  | 'Evicted'
  | 'ServiceAccountTokenNotMounted'
  | 'NoMatchingOffers'
  | 'OfferSelected'
  | 'Provisioning'
  | 'ProvisionFailed'
  | 'MachineBanned'
  | 'Started'
  | 'InstanceGone'
  | 'Terminated'
  | 'Adopted'
  /** the rate billed after renting is above the pod's price-max */
  | 'PriceAboveMax'
  /** kubelet's reason for a pull failure, used when the pre-rent image check refuses */
  | 'Failed'
  /** kubelet's: a restart in place waits out its back-off */
  | 'BackOff'
  /** kubelet's: a probe failed on the machine */
  | 'Unhealthy'
  /** kubelet's: activeDeadlineSeconds passed */
  | 'DeadlineExceeded'
  /** the pod's tolerations let an anex outage evict it (lib/kube/pod-advisories.ts) */
  | 'OutageEvictionRisk'
  /** a DaemonSet's pod landed on a virtual node: never given a machine (ADR 0013) */
  | 'DaemonSetPodNotRun'
  /** an operator's spend limit holds the pod before renting (ADR 0019) */
  | 'SpendLimit'
  /** the pod's namespace is not enabled for renting (ADR 0019) */
  | 'NamespaceNotEnabled'
  /** every matching machine has more GPUs than the pod's nvidia.com/gpu limits (ADR 0019) */
  | 'GpuLimitExceeded';

export interface PodEvent {
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}
