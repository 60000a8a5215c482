import {
  type ConfigurationOptions,
  CoordinationV1Api,
  CoreV1Api,
  type CoreV1Event,
  type KubeConfig,
  PatchStrategy,
  type V1Lease,
  type V1Node,
  type V1Pod,
  VersionApi,
} from '@kubernetes/client-node';
import { AnexError } from '../errors.ts';
import type {
  Cluster,
  LabelledPod,
  PodEvent,
  PodManifest,
  PodRef,
  PodStatusUpdate,
  PodView,
  SecretRead,
  VirtualNodeSpec,
} from './cluster.ts';
import { statusCode, translateKubeError } from './errors.ts';
import { kubeTime, microTime } from './kube-time.ts';
import { eventMessage, eventName, podIPPatch, podStatusPatch } from './pod-status-patch.ts';
import { toLabelledPod, toPodView } from './pod-view.ts';
import { requestOptions } from './request-options.ts';
import {
  kubeletVersionFor,
  labelsDiffer,
  newNode,
  nodeLabels,
  nodeProviderID,
  nodeStatusPatch,
  nodeTaints,
  sameTaints,
} from './virtual-node.ts';

export interface KubeClusterOptions {
  kubeConfig: KubeConfig;
  /** `source.component` and field manager of everything anex writes. @default 'anex' */
  component?: string;
  /**
   * Per-request timeout: undici's own is 300 s, far past a Lambda deadline; a hung API
   * server must fail the call (`timeout`, retryable) while the pass can still report.
   * @default 10_000
   */
  requestTimeoutMs?: number;
}

const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Cluster over @kubernetes/client-node v2 (CoreV1 + CoordinationV1). Every call is one
 * request, plus at most one re-read and retry on 409; the contract's `'gone'` outcomes are
 * decided from the status code before anything is thrown (lib/kube/errors.ts).
 */
export class KubeCluster implements Cluster {
  readonly #core: CoreV1Api;
  readonly #coordination: CoordinationV1Api;
  readonly #version: VersionApi;
  /** the API server's gitVersion, read once (a failed read is retried at the next ensureNode) */
  #serverVersion: string | undefined;
  readonly #component: string;
  readonly #plain: ConfigurationOptions;
  readonly #strategic: ConfigurationOptions;
  readonly #merge: ConfigurationOptions;

  constructor(options: KubeClusterOptions) {
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#plain = requestOptions(timeoutMs);
    this.#strategic = requestOptions(timeoutMs, PatchStrategy.StrategicMergePatch);
    this.#merge = requestOptions(timeoutMs, PatchStrategy.MergePatch);
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#coordination = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#version = options.kubeConfig.makeApiClient(VersionApi);
    this.#component = options.component ?? 'anex';
  }

  async ensureNode(node: VirtualNodeSpec, options: { now: number }): Promise<void> {
    const action = `register virtual node ${node.name}`;
    const current = await this.#call(() => this.#upsertNode(node), action);
    const body = nodeStatusPatch(node, {
      now: options.now,
      existing: current.status?.conditions,
      kubeletVersion: kubeletVersionFor(await this.#readServerVersion()),
    });
    await this.#call(
      () =>
        this.#core.patchNodeStatus({ name: node.name, body, fieldManager: this.#component }, this.#strategic),
      action,
    );
  }

  async renewNodeLease(nodeName: string, options: { now: number; durationSeconds: number }): Promise<void> {
    const spec = {
      holderIdentity: nodeName,
      leaseDurationSeconds: options.durationSeconds,
      renewTime: microTime(options.now),
    };
    const action = `renew the node lease of ${nodeName}`;
    try {
      await this.#coordination.patchNamespacedLease(
        { name: nodeName, namespace: NODE_LEASE_NAMESPACE, body: { spec }, fieldManager: this.#component },
        this.#merge,
      );
      return;
    } catch (error) {
      if (statusCode(error) !== 404) throw translateKubeError(error, action);
    }
    await this.#call(() => this.#createLease(nodeName, spec), action);
  }

  async listPods(nodeName: string): Promise<PodView[]> {
    const list = await this.#call(
      () => this.#core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` }, this.#plain),
      `list pods on node ${nodeName}`,
    );
    return list.items.map(toPodView).filter((pod) => pod !== undefined);
  }

  async getPod(namespace: string, name: string): Promise<PodView | undefined> {
    try {
      return toPodView(await this.#core.readNamespacedPod({ namespace, name }, this.#plain));
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw translateKubeError(error, `read pod ${namespace}/${name}`);
    }
  }

  async readEnvSource(
    namespace: string,
    kind: 'Secret' | 'ConfigMap',
    name: string,
  ): Promise<Record<string, string> | undefined> {
    return this.#readSource(namespace, kind, name, async () => {
      if (kind === 'ConfigMap') {
        const map = await this.#core.readNamespacedConfigMap({ namespace, name }, this.#plain);
        return { ...(map.data ?? {}) };
      }
      const secret = await this.#core.readNamespacedSecret({ namespace, name }, this.#plain);
      const data: Record<string, string> = {};
      for (const [key, value] of Object.entries(secret.data ?? {}))
        data[key] = Buffer.from(value, 'base64').toString('utf8');
      return data;
    });
  }

  async readSourceFiles(
    namespace: string,
    kind: 'Secret' | 'ConfigMap',
    name: string,
  ): Promise<Record<string, Uint8Array> | undefined> {
    return this.#readSource(namespace, kind, name, async () => {
      const data: Record<string, Uint8Array> = {};
      if (kind === 'ConfigMap') {
        const map = await this.#core.readNamespacedConfigMap({ namespace, name }, this.#plain);
        for (const [key, value] of Object.entries(map.data ?? {})) data[key] = Buffer.from(value, 'utf8');
        for (const [key, value] of Object.entries(map.binaryData ?? {}))
          data[key] = Buffer.from(value, 'base64');
        return data;
      }
      const secret = await this.#core.readNamespacedSecret({ namespace, name }, this.#plain);
      for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64');
      return data;
    });
  }

  async readPullSecret(namespace: string, name: string): Promise<SecretRead | undefined> {
    return this.#readSource(namespace, 'Secret', name, async () => {
      const secret = await this.#core.readNamespacedSecret({ namespace, name }, this.#plain);
      const data: Record<string, string> = {};
      for (const [key, value] of Object.entries(secret.data ?? {}))
        data[key] = Buffer.from(value, 'base64').toString('utf8');
      return {
        type: secret.type ?? 'Opaque',
        uid: secret.metadata?.uid ?? '',
        resourceVersion: secret.metadata?.resourceVersion ?? '',
        data,
      };
    });
  }

  async #readSource<T>(
    namespace: string,
    kind: 'Secret' | 'ConfigMap',
    name: string,
    read: () => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      if (statusCode(error) === 403) {
        throw new AnexError(
          `anex may not read ${kind} ${namespace}/${name}: namespace ${namespace} is not one anex reads pods' env from (add it with anex manifests --env-namespaces)`,
          { kind: 'auth', cause: error },
        );
      }
      // The error names the object, never its data (the API server's message has no values).
      throw translateKubeError(error, `read ${kind} ${namespace}/${name} (a pod's env or volume reads it)`);
    }
  }

  async updatePodStatus(pod: PodRef, status: PodStatusUpdate): Promise<'updated' | 'gone'> {
    const action = `update the status of pod ${pod.namespace}/${pod.name}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#core.patchNamespacedPodStatus(
          {
            namespace: pod.namespace,
            name: pod.name,
            body: podStatusPatch(pod, status),
            fieldManager: this.#component,
          },
          this.#strategic,
        );
        return 'updated';
      } catch (error) {
        const code = statusCode(error);
        if (code === 404) return 'gone';
        // 409/422 here mostly mean "this name now belongs to another pod" (uid in the patch): re-read to tell.
        if (code !== 409 && code !== 422) throw translateKubeError(error, action);
        if ((await this.getPod(pod.namespace, pod.name))?.uid !== pod.uid) return 'gone';
        if (code === 422 || attempt > 1) throw translateKubeError(error, action);
      }
    }
  }

  async annotatePod(pod: PodRef, annotations: Readonly<Record<string, string>>): Promise<'updated' | 'gone'> {
    const action = `annotate pod ${pod.namespace}/${pod.name}`;
    try {
      // Through the status subresource, which the reconciler already may patch: a pod's
      // status strategy resets only spec, deletionTimestamp and ownerReferences, so metadata
      // annotations go through — no `patch pods` (which could change a pod's spec) in the role.
      await this.#core.patchNamespacedPodStatus(
        {
          namespace: pod.namespace,
          name: pod.name,
          // The uid makes the patch fail (409) on a new pod that took the name.
          body: { metadata: { uid: pod.uid, annotations } },
          fieldManager: this.#component,
        },
        this.#merge,
      );
      return 'updated';
    } catch (error) {
      const code = statusCode(error);
      if (code === 404) return 'gone';
      if (code === 409 && (await this.getPod(pod.namespace, pod.name))?.uid !== pod.uid) return 'gone';
      throw translateKubeError(error, action);
    }
  }

  async recordEvent(pod: PodRef, event: PodEvent, options: { now: number }): Promise<void> {
    const action = `record event ${event.reason} on pod ${pod.namespace}/${pod.name}`;
    await this.#call(() => this.#upsertEvent(pod, event, options.now), action);
  }

  async finalizePod(pod: PodRef): Promise<'deleted' | 'gone'> {
    try {
      await this.#core.deleteNamespacedPod(
        {
          namespace: pod.namespace,
          name: pod.name,
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid: pod.uid } },
        },
        this.#plain,
      );
      return 'deleted';
    } catch (error) {
      // 409: the uid precondition failed, so the pod we meant is gone and the name is another's.
      if (statusCode(error) === 404 || statusCode(error) === 409) return 'gone';
      throw translateKubeError(error, `delete pod ${pod.namespace}/${pod.name}`);
    }
  }

  async listLabelledPods(namespace: string, labelKey: string): Promise<LabelledPod[]> {
    const list = await this.#call(
      () => this.#core.listNamespacedPod({ namespace, labelSelector: labelKey }, this.#plain),
      `list pods labelled ${labelKey} in namespace ${namespace}`,
    );
    return list.items.map(toLabelledPod).filter((pod) => pod !== undefined);
  }

  async createPod(manifest: PodManifest): Promise<'created' | 'exists'> {
    const { namespace, name } = manifest.metadata;
    try {
      await this.#core.createNamespacedPod(
        { namespace, body: manifest as unknown as V1Pod, fieldManager: this.#component },
        this.#plain,
      );
      return 'created';
    } catch (error) {
      if (statusCode(error) === 409) return 'exists';
      throw translateKubeError(error, `create pod ${namespace}/${name}`);
    }
  }

  async deletePod(pod: PodRef): Promise<'deleted' | 'gone'> {
    try {
      await this.#core.deleteNamespacedPod(
        { namespace: pod.namespace, name: pod.name, body: { preconditions: { uid: pod.uid } } },
        this.#plain,
      );
      return 'deleted';
    } catch (error) {
      // 409: the uid precondition failed, so the pod we meant is gone and the name is another's.
      if (statusCode(error) === 404 || statusCode(error) === 409) return 'gone';
      throw translateKubeError(error, `delete pod ${pod.namespace}/${pod.name}`);
    }
  }

  async setPodIP(pod: PodRef, ip: string): Promise<'updated' | 'gone'> {
    const action = `set the address of pod ${pod.namespace}/${pod.name}`;
    try {
      await this.#core.patchNamespacedPodStatus(
        {
          namespace: pod.namespace,
          name: pod.name,
          body: podIPPatch(pod, ip),
          fieldManager: this.#component,
        },
        this.#merge,
      );
      return 'updated';
    } catch (error) {
      const code = statusCode(error);
      if (code === 404) return 'gone';
      // A merge patch naming another uid is refused as 409 or 422 ("metadata.uid: field is immutable").
      const taken = code === 409 || code === 422;
      if (taken && (await this.getPod(pod.namespace, pod.name))?.uid !== pod.uid) return 'gone';
      throw translateKubeError(error, action);
    }
  }

  /** An overlapping tick may create it first: then take theirs. */
  async #createNode(node: VirtualNodeSpec): Promise<V1Node> {
    try {
      return await this.#core.createNode({ body: newNode(node), fieldManager: this.#component }, this.#plain);
    } catch (error) {
      if (statusCode(error) !== 409) throw error;
      const existing = await this.#readNode(node.name);
      if (existing === undefined) throw error;
      return existing;
    }
  }

  async #readNode(name: string): Promise<V1Node | undefined> {
    try {
      return await this.#core.readNode({ name }, this.#plain);
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Creates the node, or brings its labels and taints up to date. The taint list is replaced
   * whole, so the patch carries the resourceVersion it was computed from: if the lifecycle
   * controller changed taints meanwhile (409), read again and redo, rather than drop theirs.
   */
  async #upsertNode(node: VirtualNodeSpec): Promise<V1Node> {
    for (let attempt = 1; ; attempt++) {
      const current = (await this.#readNode(node.name)) ?? (await this.#createNode(node));
      const taints = nodeTaints(node, current.spec?.taints);
      // A node registered before anex set one gets it now; once set it never changes.
      const missingID = current.spec?.providerID === undefined;
      if (sameTaints(current.spec?.taints ?? [], taints) && !labelsDiffer(current, node) && !missingID)
        return current;
      const body = {
        metadata: { labels: nodeLabels(node), resourceVersion: current.metadata?.resourceVersion },
        spec: { taints, ...(missingID ? { providerID: nodeProviderID(node) } : {}) },
      };
      try {
        return await this.#core.patchNode(
          { name: node.name, body, fieldManager: this.#component },
          this.#merge,
        );
      } catch (error) {
        if (statusCode(error) !== 409 || attempt >= 3) throw error;
      }
    }
  }

  /**
   * GET /version, once per instance. Anyone authenticated may read it (system:public-info-viewer),
   * so a failure is a passing API server problem: the node keeps being reported with the
   * constant version rather than go NotReady over it, and the next ensureNode tries again.
   */
  async #readServerVersion(): Promise<string | undefined> {
    if (this.#serverVersion === undefined) {
      this.#serverVersion = await this.#version.getCode(this.#plain).then(
        (info) => info.gitVersion,
        () => undefined,
      );
    }
    return this.#serverVersion;
  }

  /** Owned by the Node, as kubelet does, so deleting the node deletes its lease. */
  async #createLease(nodeName: string, spec: object): Promise<void> {
    const node = await this.#readNode(nodeName);
    const uid = node?.metadata?.uid;
    const body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: nodeName,
        namespace: NODE_LEASE_NAMESPACE,
        ...(uid === undefined
          ? {}
          : { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid }] }),
      },
      spec,
    } as V1Lease;
    await this.#coordination.createNamespacedLease(
      {
        namespace: NODE_LEASE_NAMESPACE,
        body,
        fieldManager: this.#component,
      },
      this.#plain,
    );
  }

  #newEvent(pod: PodRef, event: PodEvent, name: string, now: number): CoreV1Event {
    const at = new Date(kubeTime(now));
    return {
      metadata: { name, namespace: pod.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: pod.namespace,
        name: pod.name,
        uid: pod.uid,
      },
      reason: event.reason,
      message: eventMessage(event.message),
      type: event.type,
      source: { component: this.#component },
      reportingComponent: this.#component,
      reportingInstance: this.#component,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
  }

  /**
   * Creates the event, or — same reason and message again — bumps its count (resourceVersion
   * guards the count). Two rounds cover a concurrent writer and an event expiring in between.
   */
  async #upsertEvent(pod: PodRef, event: PodEvent, now: number): Promise<void> {
    const name = eventName(pod, event);
    const { namespace } = pod;
    for (let round = 1; round <= 2; round++) {
      try {
        await this.#core.createNamespacedEvent(
          { namespace, body: this.#newEvent(pod, event, name, now) },
          this.#plain,
        );
        return;
      } catch (error) {
        if (statusCode(error) === 404) return; // the namespace is gone, and the pod with it
        if (statusCode(error) !== 409) throw error;
      }
      const current = await this.#core
        .readNamespacedEvent({ namespace, name }, this.#plain)
        .catch((error: unknown) => {
          if (statusCode(error) === 404) return undefined;
          throw error;
        });
      if (current === undefined) continue;
      const body = {
        metadata: { resourceVersion: current.metadata.resourceVersion },
        count: (current.count ?? 1) + 1,
        lastTimestamp: kubeTime(now),
        type: event.type,
      };
      try {
        await this.#core.patchNamespacedEvent({ namespace, name, body }, this.#merge);
        return;
      } catch (error) {
        if (statusCode(error) !== 409 && statusCode(error) !== 404) throw error;
      }
    }
    throw new AnexError(`event ${name} kept changing under us`, { kind: 'conflict', retryable: true });
  }

  async #call<T>(run: () => Promise<T>, action: string): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw translateKubeError(error, action);
    }
  }
}
