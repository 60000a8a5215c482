import { AnexError } from '../errors.ts';
import type {
  Cluster,
  ContainerView,
  LabelledPod,
  PodEvent,
  PodManifest,
  PodPhase,
  PodRef,
  PodStatusUpdate,
  PodView,
  SecretRead,
  VirtualNodeSpec,
} from './cluster.ts';
import { mergeStatus } from './merge-status.ts';
import { OUTAGE_TAINT_KEYS } from './outage-tolerations.ts';

/**
 * The Cluster contract in memory, for unit tests of lib/reconcile (STYLE.md: fakes of our
 * own interfaces, no mocking library). It keeps pods, node specs, leases and events, and
 * offers the knobs a test needs: add pods, request or simulate deletion, read back what
 * was written, count calls, and make the next call of a method fail.
 *
 * Semantics follow KubeCluster: status writes merge (conditions by type, containers by
 * name), a write to a pod whose uid differs or that is gone answers `'gone'`, events with
 * the same reason and message on the same pod bump a count.
 */
export class MemoryCluster implements Cluster {
  /** calls made per method, to assert bounded reads ("one list per node per pass") */
  readonly calls: Record<keyof Cluster, number> = emptyCounts();
  readonly #pods = new Map<string, PodView>();
  /** Secrets and ConfigMaps by `<kind>/<namespace>/<name>`: string data */
  readonly #sources = new Map<string, Record<string, string>>();
  /** Secrets' type and resourceVersion by `Secret/<namespace>/<name>` (readPullSecret) */
  readonly #secretMeta = new Map<string, { type?: string; version: number }>();
  readonly #nodes = new Map<string, StoredNode>();
  readonly #leases = new Map<string, StoredLease>();
  readonly #events: RecordedEvent[] = [];
  readonly #failures = new Map<keyof Cluster, unknown>();
  /** pods made with createPod (off the virtual nodes: the reconciler's forwarders), by `<namespace>/<name>` */
  readonly #created = new Map<string, CreatedPod>();
  #nextUid = 1;

  async ensureNode(node: VirtualNodeSpec, options: { now: number }): Promise<void> {
    this.#enter('ensureNode');
    this.#nodes.set(node.name, { spec: structuredClone(node), readyHeartbeat: options.now });
  }

  async renewNodeLease(nodeName: string, options: { now: number; durationSeconds: number }): Promise<void> {
    this.#enter('renewNodeLease');
    this.#leases.set(nodeName, { renewTime: options.now, durationSeconds: options.durationSeconds });
  }

  async listPods(nodeName: string): Promise<PodView[]> {
    this.#enter('listPods');
    return [...this.#pods.values()].filter((p) => p.nodeName === nodeName).map((p) => structuredClone(p));
  }

  async getPod(namespace: string, name: string): Promise<PodView | undefined> {
    this.#enter('getPod');
    const pod = this.#pods.get(key(namespace, name));
    return pod === undefined ? undefined : structuredClone(pod);
  }

  async updatePodStatus(pod: PodRef, status: PodStatusUpdate): Promise<'updated' | 'gone'> {
    this.#enter('updatePodStatus');
    const stored = this.#find(pod);
    if (stored === undefined) return 'gone';
    const merged = mergeStatus(stored.status, status);
    stored.status = merged;
    stored.phase = merged.phase;
    return 'updated';
  }

  async annotatePod(pod: PodRef, annotations: Readonly<Record<string, string>>): Promise<'updated' | 'gone'> {
    this.#enter('annotatePod');
    const stored = this.#find(pod);
    if (stored === undefined) return 'gone';
    stored.annotations = { ...stored.annotations, ...annotations };
    return 'updated';
  }

  async recordEvent(pod: PodRef, event: PodEvent, options: { now: number }): Promise<void> {
    this.#enter('recordEvent');
    const at = new Date(options.now).toISOString();
    const same = this.#events.find(
      (e) => e.pod.uid === pod.uid && e.reason === event.reason && e.message === event.message,
    );
    if (same !== undefined) {
      same.count += 1;
      same.lastTimestamp = at;
      same.type = event.type;
      return;
    }
    this.#events.push({ ...event, pod: { ...pod }, count: 1, firstTimestamp: at, lastTimestamp: at });
  }

  async readEnvSource(
    namespace: string,
    kind: 'Secret' | 'ConfigMap',
    name: string,
  ): Promise<Record<string, string> | undefined> {
    this.#enter('readEnvSource');
    const data = this.#sources.get(`${kind}/${namespace}/${name}`);
    return data === undefined ? undefined : { ...data };
  }

  async readSourceFiles(
    namespace: string,
    kind: 'Secret' | 'ConfigMap',
    name: string,
  ): Promise<Record<string, Uint8Array> | undefined> {
    this.#enter('readSourceFiles');
    const data = this.#sources.get(`${kind}/${namespace}/${name}`);
    if (data === undefined) return undefined;
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, new TextEncoder().encode(v)]));
  }

  /** Puts a Secret or ConfigMap in place (its string data); undefined data removes it. */
  setEnvSource(
    kind: 'Secret' | 'ConfigMap',
    namespace: string,
    name: string,
    data?: Record<string, string>,
    /** a Secret's type; @default kubernetes.io/dockerconfigjson with a `.dockerconfigjson` key, else Opaque */
    type?: string,
  ): void {
    const id = `${kind}/${namespace}/${name}`;
    if (data === undefined) {
      this.#sources.delete(id);
      return;
    }
    this.#sources.set(id, { ...data });
    const version = (this.#secretMeta.get(id)?.version ?? 0) + 1;
    this.#secretMeta.set(id, { ...(type === undefined ? {} : { type }), version });
  }

  async readPullSecret(namespace: string, name: string): Promise<SecretRead | undefined> {
    this.#enter('readPullSecret');
    const id = `Secret/${namespace}/${name}`;
    const data = this.#sources.get(id);
    if (data === undefined) return undefined;
    const meta = this.#secretMeta.get(id);
    const type =
      meta?.type ??
      ('.dockerconfigjson' in data
        ? 'kubernetes.io/dockerconfigjson'
        : '.dockercfg' in data
          ? 'kubernetes.io/dockercfg'
          : 'Opaque');
    return { type, uid: `uid-${id}`, resourceVersion: String(meta?.version ?? 1), data: { ...data } };
  }

  async finalizePod(pod: PodRef): Promise<'deleted' | 'gone'> {
    this.#enter('finalizePod');
    if (this.#find(pod) === undefined) return 'gone';
    this.#pods.delete(key(pod.namespace, pod.name));
    return 'deleted';
  }

  async listLabelledPods(namespace: string, labelKey: string): Promise<LabelledPod[]> {
    this.#enter('listLabelledPods');
    return [...this.#created.values()]
      .filter((p) => p.namespace === namespace && labelKey in p.labels)
      .map((p) => structuredClone(labelledView(p)));
  }

  async createPod(manifest: PodManifest): Promise<'created' | 'exists'> {
    this.#enter('createPod');
    const { namespace, name } = manifest.metadata;
    if (this.#created.has(key(namespace, name)) || this.#pods.has(key(namespace, name))) return 'exists';
    this.#created.set(key(namespace, name), {
      namespace,
      name,
      uid: `uid-${this.#nextUid++}`,
      labels: { ...manifest.metadata.labels },
      annotations: { ...(manifest.metadata.annotations ?? {}) },
      phase: 'Pending',
      manifest: structuredClone(manifest),
    });
    return 'created';
  }

  async deletePod(pod: PodRef): Promise<'deleted' | 'gone'> {
    this.#enter('deletePod');
    const id = key(pod.namespace, pod.name);
    if (this.#created.get(id)?.uid === pod.uid) {
      this.#created.delete(id);
      return 'deleted';
    }
    if (this.#find(pod) === undefined) return 'gone';
    this.#pods.delete(id);
    return 'deleted';
  }

  async setPodIP(pod: PodRef, ip: string): Promise<'updated' | 'gone'> {
    this.#enter('setPodIP');
    const stored = this.#find(pod);
    if (stored === undefined) return 'gone';
    const status = stored.status ?? {
      phase: stored.phase ?? 'Pending',
      conditions: [],
      containerStatuses: [],
    };
    stored.status = { ...status, podIP: ip };
    return 'updated';
  }

  // ---- test knobs ----

  /** Adds a pod bound to `nodeName` (default `anex-vastai`); unset fields get plain defaults. */
  addPod(input: PodInput = {}): PodView {
    const namespace = input.namespace ?? 'default';
    const name = input.name ?? `pod-${this.#nextUid}`;
    const pod: PodView = {
      namespace,
      name,
      uid: input.uid ?? `uid-${this.#nextUid++}`,
      annotations: input.annotations ?? {},
      labels: input.labels ?? {},
      nodeSelector: input.nodeSelector ?? {},
      containers: (input.containers ?? [{}]).map((c, i) => aContainer(c, i)),
      restartPolicy: input.restartPolicy ?? 'Never',
      creationTimestamp: input.creationTimestamp ?? '2026-01-01T00:00:00Z',
      phase: input.status?.phase ?? 'Pending',
      status: input.status ?? { phase: 'Pending', conditions: [], containerStatuses: [] },
    };
    if (input.nodeName !== null) pod.nodeName = input.nodeName ?? 'anex-vastai';
    if (input.deletionTimestamp !== undefined) pod.deletionTimestamp = input.deletionTimestamp;
    if (input.terminationGracePeriodSeconds !== undefined)
      pod.terminationGracePeriodSeconds = input.terminationGracePeriodSeconds;
    if (input.activeDeadlineSeconds !== undefined) pod.activeDeadlineSeconds = input.activeDeadlineSeconds;
    // As the anex mutating webhook leaves every new anex pod (ADR 0012), unless a test says otherwise.
    pod.tolerations =
      input.tolerations ?? OUTAGE_TAINT_KEYS.map((key) => ({ key, operator: 'Exists', effect: 'NoExecute' }));
    if (input.controllerKind !== undefined) pod.controllerKind = input.controllerKind;
    if (input.serviceAccountName !== undefined) pod.serviceAccountName = input.serviceAccountName;
    if (input.initContainers !== undefined) pod.initContainers = input.initContainers;
    if (input.volumes !== undefined) pod.volumes = input.volumes;
    if (input.specIssues !== undefined) pod.specIssues = input.specIssues;
    if (input.imagePullSecrets !== undefined) pod.imagePullSecrets = input.imagePullSecrets;
    this.#pods.set(key(namespace, name), pod);
    return structuredClone(pod);
  }

  /** What `kubectl delete` does to a pod with a node: sets deletionTimestamp and waits for us. */
  requestDeletion(pod: PodRef, at = '2026-01-01T00:10:00Z'): void {
    const stored = this.#find(pod);
    if (stored === undefined) throw new Error(`no pod ${pod.namespace}/${pod.name} with uid ${pod.uid}`);
    stored.deletionTimestamp = at;
  }

  /** What the scheduler does: binds an unscheduled pod to a node (and marks it PodScheduled). */
  bindPod(pod: PodRef, nodeName: string): void {
    const stored = this.#find(pod);
    if (stored === undefined) throw new Error(`no pod ${pod.namespace}/${pod.name} with uid ${pod.uid}`);
    stored.nodeName = nodeName;
    stored.status = mergeStatus(stored.status, {
      phase: stored.phase ?? 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'True' }],
      containerStatuses: stored.status?.containerStatuses ?? [],
    });
  }

  /**
   * What the scheduler and a node's kubelet do to a pod made with createPod: its phase and
   * address (`podIP` undefined clears it).
   */
  setCreatedPodStatus(namespace: string, name: string, status: { phase: PodPhase; podIP?: string }): void {
    const stored = this.#created.get(key(namespace, name));
    if (stored === undefined) throw new Error(`no created pod ${namespace}/${name}`);
    stored.phase = status.phase;
    if (status.podIP === undefined) delete stored.podIP;
    else stored.podIP = status.podIP;
  }

  /** A pod made with createPod: its manifest as given, uid, phase and address; undefined once deleted. */
  createdPod(namespace: string, name: string): CreatedPod | undefined {
    const stored = this.#created.get(key(namespace, name));
    return stored === undefined ? undefined : structuredClone(stored);
  }

  /** Forgets everything (pods, nodes, leases, events, counters, injected failures). */
  reset(): void {
    this.#pods.clear();
    this.#created.clear();
    this.#nodes.clear();
    this.#leases.clear();
    this.#events.length = 0;
    this.#failures.clear();
    for (const method of Object.keys(this.calls) as (keyof Cluster)[]) this.calls[method] = 0;
  }

  /** Removes a pod behind the reconciler's back (force delete, namespace deleted). */
  removePod(pod: PodRef): void {
    this.#pods.delete(key(pod.namespace, pod.name));
  }

  /** The pod as stored now (status included), or undefined once deleted. */
  pod(namespace: string, name: string): PodView | undefined {
    const pod = this.#pods.get(key(namespace, name));
    return pod === undefined ? undefined : structuredClone(pod);
  }

  /** Events recorded on the pod (by uid), oldest first. */
  events(pod?: PodRef): RecordedEvent[] {
    return this.#events
      .filter((e) => pod === undefined || e.pod.uid === pod.uid)
      .map((e) => structuredClone(e));
  }

  node(name: string): StoredNode | undefined {
    const node = this.#nodes.get(name);
    return node === undefined ? undefined : structuredClone(node);
  }

  lease(nodeName: string): StoredLease | undefined {
    const lease = this.#leases.get(nodeName);
    return lease === undefined ? undefined : { ...lease };
  }

  /** The next call of `method` throws `error` (default: an `unavailable` AnexError), once. */
  failNext(method: keyof Cluster, error?: unknown): void {
    this.#failures.set(
      method,
      error ??
        new AnexError(`Kubernetes API unavailable (injected into ${method})`, {
          kind: 'unavailable',
          retryable: true,
        }),
    );
  }

  #enter(method: keyof Cluster): void {
    this.calls[method] += 1;
    if (this.#failures.has(method)) {
      const error = this.#failures.get(method);
      this.#failures.delete(method);
      throw error;
    }
  }

  #find(pod: PodRef): PodView | undefined {
    const stored = this.#pods.get(key(pod.namespace, pod.name));
    return stored?.uid === pod.uid ? stored : undefined;
  }
}

export interface PodInput {
  namespace?: string;
  name?: string;
  uid?: string;
  /** null: not scheduled yet */
  nodeName?: string | null;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  containers?: Partial<ContainerView>[];
  restartPolicy?: PodView['restartPolicy'];
  creationTimestamp?: string;
  deletionTimestamp?: string;
  terminationGracePeriodSeconds?: number;
  activeDeadlineSeconds?: number;
  tolerations?: PodView['tolerations'];
  controllerKind?: string;
  serviceAccountName?: string;
  status?: PodStatusUpdate;
  initContainers?: PodView['initContainers'];
  volumes?: PodView['volumes'];
  /** what lib/kube/pod-spec-support.ts would say of the spec */
  specIssues?: PodView['specIssues'];
  imagePullSecrets?: PodView['imagePullSecrets'];
}

/** A pod made with {@link MemoryCluster.createPod}. */
export interface CreatedPod extends PodRef {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  phase: PodPhase;
  podIP?: string;
  manifest: PodManifest;
}

function labelledView(pod: CreatedPod): LabelledPod {
  return {
    namespace: pod.namespace,
    name: pod.name,
    uid: pod.uid,
    labels: pod.labels,
    annotations: pod.annotations,
    phase: pod.phase,
    ...(pod.podIP === undefined ? {} : { podIP: pod.podIP }),
  };
}

export interface StoredNode {
  spec: VirtualNodeSpec;
  /** epoch ms of the last ensureNode (the Ready condition's heartbeat) */
  readyHeartbeat: number;
}

export interface StoredLease {
  /** epoch ms */
  renewTime: number;
  durationSeconds: number;
}

export interface RecordedEvent extends PodEvent {
  pod: PodRef;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
}

function aContainer(input: Partial<ContainerView>, index: number): ContainerView {
  return {
    name: input.name ?? (index === 0 ? 'main' : `c${index}`),
    image: input.image ?? 'ghcr.io/example/trainer:1',
    env: input.env ?? {},
    ...(input.envSpec === undefined ? {} : { envSpec: input.envSpec }),
    ...(input.envIssues === undefined ? {} : { envIssues: input.envIssues }),
    ...(input.resources === undefined ? {} : { resources: input.resources }),
    ...(input.command === undefined ? {} : { command: input.command }),
    ...(input.args === undefined ? {} : { args: input.args }),
    ...(input.workingDir === undefined ? {} : { workingDir: input.workingDir }),
    ...(input.gpuLimit === undefined ? {} : { gpuLimit: input.gpuLimit }),
    ...(input.probes === undefined ? {} : { probes: input.probes }),
    ...(input.preStop === undefined ? {} : { preStop: input.preStop }),
    ...(input.lifecycleIssues === undefined ? {} : { lifecycleIssues: input.lifecycleIssues }),
    ...(input.mounts === undefined ? {} : { mounts: input.mounts }),
    ...(input.ports === undefined ? {} : { ports: input.ports }),
    ...(input.portNames === undefined ? {} : { portNames: input.portNames }),
  };
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function emptyCounts(): Record<keyof Cluster, number> {
  return {
    ensureNode: 0,
    renewNodeLease: 0,
    listPods: 0,
    getPod: 0,
    updatePodStatus: 0,
    annotatePod: 0,
    recordEvent: 0,
    finalizePod: 0,
    readEnvSource: 0,
    readSourceFiles: 0,
    readPullSecret: 0,
    listLabelledPods: 0,
    createPod: 0,
    deletePod: 0,
    setPodIP: 0,
  };
}
