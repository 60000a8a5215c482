import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Container,
  V1MicroTime,
  type V1Node,
  type V1Pod,
  type V1PodCondition,
  type V1ServiceAccountTokenProjection,
} from '@kubernetes/client-node';
import type { ManagedProcess, ProcessScope } from '../../lib/local/control-plane/processes.ts';
import type { NetnsGround } from './netns.ts';
import { aNodeLease, NODE_LEASE_NAMESPACE } from './virtual-node.ts';

/**
 * An ordinary cluster Node and an emulated kubelet for it: what a cluster's node agents would
 * do for the pods the real scheduler binds there, and nothing more. Each pod gets its own
 * network namespace on the node's pod bridge with its own IP; projected ServiceAccount token
 * volumes are made as the kubelet makes them (TokenRequest bound to the pod, so TokenReview
 * reports the pod's name and uid) and mounted at their mountPath in a private mount namespace
 * of the container's process; the container's command runs (command[0] looked up in `images`,
 * the node's "image store") as its runAsUser with the capabilities dropped; tcpSocket readiness
 * probes run from the node's namespace; the status (Running, podIP, Ready) is written through
 * the API server. A pod being deleted is killed, its namespace removed, and the object deleted
 * with grace 0, as the kubelet finishes a graceful deletion.
 *
 * Not emulated: image pulls, restarts, resource limits, other volume kinds, exec probes.
 */

const exec = promisify(execFile);

export interface ClusterNodeOptions {
  kubeConfig: KubeConfig;
  /** unique in the cluster (other grounds may run at once) */
  name: string;
  netns: NetnsGround;
  /** the role of the node's own namespace (it holds the pod bridge) */
  nodeRole: string;
  /** the pod bridge in the node's namespace; its address is the pods' gateway */
  bridge: string;
  /** the pods' /24 prefix, e.g. `10.244.7` (the bridge is `.1`; pods get `.10` on) */
  podPrefix: string;
  /** the node's InternalIP */
  internalIp: string;
  scope: ProcessScope;
  /** command[0] → a binary copied into the node's image store (readable by any uid) */
  images?: Readonly<Record<string, string>>;
  /** how often the kubelet looks at its pods @default 1000 */
  intervalMs?: number;
}

export interface EmulatedPod {
  namespace: string;
  name: string;
  uid: string;
  /** the NetnsGround role of the pod's network namespace */
  role: string;
  ip: string;
  process: ManagedProcess;
  ready: boolean;
  /** when the readiness probe last ran (ms), and when the container started */
  probedAt: number;
  startedAt: number;
  /** host directory of each projected volume, by volume name */
  volumes: Record<string, string>;
}

export interface ClusterNode {
  readonly name: string;
  /** the pods this kubelet runs now, by uid */
  pods(): ReadonlyMap<string, EmulatedPod>;
  /** what went wrong running pods (a pod that could not start names its reason here) */
  errors(): readonly string[];
  /** Stops the kubelet (killing its pods, removing their namespaces) and deletes the Node. */
  stop(): Promise<void>;
}

export async function startClusterNode(options: ClusterNodeOptions): Promise<ClusterNode> {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const leases = options.kubeConfig.makeApiClient(CoordinationV1Api);
  const created = await core.createNode({ body: ordinaryNode(options.name, options.internalIp) });
  await leases.createNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, body: aNodeLease(created) });
  const store = mkdtempSync(join(tmpdir(), 'anex-node-'));
  // The image store: readable by the containers' unprivileged users (the scope's directory is not).
  chmodSync(store, 0o755);
  const images: Record<string, string> = {};
  mkdirSync(join(store, 'bin'), { mode: 0o755 });
  for (const [name, path] of Object.entries(options.images ?? {})) {
    const copy = join(store, 'bin', basename(name));
    copyFileSync(path, copy);
    chmodSync(copy, 0o755);
    images[name] = copy;
  }
  const kubelet = new Kubelet(core, options, store, images);
  let stopped = false;
  const lease = setInterval(() => {
    renewLease(leases, options.name).catch(() => {
      // A missed renewal is what the node-lifecycle controller tolerates; the next tick retries.
    });
  }, 5_000);
  const loop = (async () => {
    while (!stopped) {
      await kubelet.sync().catch((error: Error) => kubelet.problems.push(`sync: ${error.message}`));
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1_000));
    }
  })();
  return {
    name: options.name,
    pods: () => kubelet.running,
    errors: () => kubelet.problems,
    async stop() {
      stopped = true;
      clearInterval(lease);
      await loop;
      await kubelet.stopAll();
      await core.deleteNode({ name: options.name }).catch(() => undefined);
      rmSync(store, { recursive: true, force: true });
    },
  };
}

/** An untainted, Ready node (as a kubelet registers one) with room for small pods. */
function ordinaryNode(name: string, internalIp: string): V1Node {
  const now = new Date();
  const resources = { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
    },
    status: {
      capacity: resources,
      allocatable: resources,
      addresses: [
        { type: 'InternalIP', address: internalIp },
        { type: 'Hostname', address: name },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'emulated kubelet is posting ready status',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'v1.33.0-emulated',
        kubeProxyVersion: '',
        containerRuntimeVersion: 'emulated://0',
        bootID: '',
        kernelVersion: '',
        machineID: '',
        osImage: '',
        systemUUID: '',
      },
    },
  };
}

async function renewLease(leases: CoordinationV1Api, name: string): Promise<void> {
  const lease = await leases.readNamespacedLease({ name, namespace: NODE_LEASE_NAMESPACE });
  lease.spec = { ...lease.spec, renewTime: new V1MicroTime() };
  await leases.replaceNamespacedLease({ name, namespace: NODE_LEASE_NAMESPACE, body: lease });
}

/** Single-quotes a word for sh. */
function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

class Kubelet {
  readonly running = new Map<string, EmulatedPod>();
  readonly problems: string[] = [];
  /** uids that failed to start (not retried) */
  readonly #failed = new Set<string>();
  #next = 0;

  readonly core: CoreV1Api;
  readonly options: ClusterNodeOptions;
  readonly store: string;
  readonly images: Readonly<Record<string, string>>;

  constructor(
    core: CoreV1Api,
    options: ClusterNodeOptions,
    store: string,
    images: Readonly<Record<string, string>>,
  ) {
    this.core = core;
    this.options = options;
    this.store = store;
    this.images = images;
  }

  async sync(): Promise<void> {
    const list = await this.core.listPodForAllNamespaces({
      fieldSelector: `spec.nodeName=${this.options.name}`,
    });
    const seen = new Set<string>();
    for (const pod of list.items) {
      seen.add(pod.metadata?.uid ?? '');
      await this.#syncPod(pod);
    }
    // Force-deleted pods (gone from the API without a graceful phase).
    for (const [uid, pod] of this.running) if (!seen.has(uid)) await this.#stop(pod);
  }

  async #syncPod(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const known = this.running.get(uid);
    if (pod.metadata?.deletionTimestamp !== undefined) {
      if (known !== undefined) await this.#stop(known);
      // The kubelet's last word on a graceful deletion: the containers are gone.
      await this.core
        .deleteNamespacedPod({
          namespace: pod.metadata.namespace ?? '',
          name: pod.metadata.name ?? '',
          // In the body: the API server reads a DeleteOptions body instead of the query.
          body: { gracePeriodSeconds: 0, preconditions: { uid } },
        })
        .catch((error: { code?: number; message?: string }) => {
          if (error.code !== 404) this.problems.push(`delete ${pod.metadata?.name}: ${error.message}`);
        });
      return;
    }
    if (known === undefined) {
      if (this.#failed.has(uid)) return;
      try {
        this.running.set(uid, await this.#start(pod));
      } catch (error) {
        this.#failed.add(uid);
        this.problems.push(`${pod.metadata?.namespace}/${pod.metadata?.name}: ${(error as Error).message}`);
        return;
      }
    }
    const current = this.running.get(uid);
    if (current !== undefined) await this.#status(pod, current);
  }

  async stopAll(): Promise<void> {
    for (const pod of [...this.running.values()]) await this.#stop(pod);
  }

  async #start(pod: V1Pod): Promise<EmulatedPod> {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const uid = pod.metadata?.uid ?? '';
    const container = pod.spec?.containers[0];
    if (container === undefined) throw new Error('no container');
    const n = this.#next++;
    const role = `p${n}`;
    const ip = `${this.options.podPrefix}.${10 + n}`;
    const { netns } = this.options;
    netns.add(role);
    const emulated: Partial<EmulatedPod> = {
      namespace,
      name,
      uid,
      role,
      ip,
      ready: false,
      volumes: {},
      probedAt: 0,
      startedAt: Date.now(),
    };
    try {
      netns.link(
        role,
        { role, address: `${ip}/24` },
        { role: this.options.nodeRole, master: this.options.bridge },
      );
      netns.exec(role, ['ip', 'route', 'add', 'default', 'via', `${this.options.podPrefix}.1`]);
      // Pod sysctls are namespaced (net.*): set in the pod's own network namespace.
      for (const sysctl of pod.spec?.securityContext?.sysctls ?? [])
        netns.exec(role, ['sysctl', '-qw', `${sysctl.name}=${sysctl.value}`]);
      const user = container.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
      const group = container.securityContext?.runAsGroup ?? pod.spec?.securityContext?.runAsGroup ?? user;
      const volumes = await this.#volumes(pod, user);
      emulated.volumes = volumes;
      const argv = this.#argv(container, volumes, user, group);
      emulated.process = this.options.scope.spawn({
        name: `pod-${namespace}-${name}`,
        ...netns.argv(role, argv),
        env: { PATH: process.env.PATH, ...envOf(container) },
      });
      return emulated as EmulatedPod;
    } catch (error) {
      netns.remove(role);
      throw error;
    }
  }

  /**
   * Projected serviceAccountToken volumes, as the kubelet makes them: a TokenRequest for the
   * pod's ServiceAccount with the volume's audience and expiry, bound to the pod (so the token
   * dies with it and TokenReview names it). Owned by the container's user, mode 0600.
   */
  async #volumes(pod: V1Pod, user: number | undefined): Promise<Record<string, string>> {
    const uid = pod.metadata?.uid ?? '';
    const out: Record<string, string> = {};
    for (const volume of pod.spec?.volumes ?? []) {
      const sources = volume.projected?.sources ?? [];
      if (sources.length === 0) continue;
      const dir = join(this.store, 'pods', uid, 'volumes', volume.name);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(dir, 0o755);
      for (const source of sources) {
        const sat = source.serviceAccountToken;
        if (sat === undefined)
          throw new Error(`volume ${volume.name}: only serviceAccountToken sources are emulated`);
        const file = join(dir, sat.path);
        writeFileSync(file, await boundToken(this.core, pod, sat), { mode: 0o600 });
        if (user !== undefined) chownSync(file, user, user);
      }
      out[volume.name] = dir;
    }
    return out;
  }

  /**
   * The container's process: a private mount namespace with each volume bind-mounted read-only
   * at its mountPath, then the command as the container's user without capabilities.
   */
  #argv(
    container: V1Container,
    volumes: Readonly<Record<string, string>>,
    user: number | undefined,
    group: number | undefined,
  ): string[] {
    const mounts: string[] = [];
    for (const mount of container.volumeMounts ?? []) {
      const source = volumes[mount.name];
      if (source === undefined) continue;
      // The mount point must exist in the (shared) file system; an empty directory is left.
      if (!existsSync(mount.mountPath)) mkdirSync(mount.mountPath, { recursive: true, mode: 0o755 });
      mounts.push(`mount --bind ${quote(source)} ${quote(mount.mountPath)}`);
      mounts.push(`mount -o remount,bind,ro ${quote(mount.mountPath)}`);
    }
    const [command, ...rest] = [...(container.command ?? []), ...(container.args ?? [])];
    if (command === undefined)
      throw new Error(`container ${container.name}: no command (images are not emulated)`);
    const binary = this.images[command] ?? command;
    const security = container.securityContext;
    const privileges: string[] = [];
    if (user !== undefined) {
      privileges.push('setpriv', `--reuid=${user}`, `--regid=${group ?? user}`, '--clear-groups');
      if (security?.capabilities?.drop?.includes('ALL'))
        privileges.push('--inh-caps=-all', '--bounding-set=-all');
      if (security?.allowPrivilegeEscalation === false) privileges.push('--no-new-privs');
      privileges.push('--');
    }
    const script = [...mounts, `exec ${[...privileges, binary, ...rest].map(quote).join(' ')}`].join(' && ');
    return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script];
  }

  async #status(pod: V1Pod, emulated: EmulatedPod): Promise<void> {
    const container = pod.spec?.containers[0];
    const exited = !emulated.process.isRunning();
    const ready = !exited && (await this.#readiness(container, emulated));
    const written = pod.status?.podIP !== undefined;
    if (
      written &&
      ready === emulated.ready &&
      !(exited && pod.status?.containerStatuses?.[0]?.state?.running)
    )
      return;
    emulated.ready = ready;
    if (exited)
      this.problems.push(`${emulated.namespace}/${emulated.name} exited: ${emulated.process.logTail(20)}`);
    const now = new Date();
    const condition = (type: string, status: boolean): V1PodCondition => ({
      type,
      status: status ? 'True' : 'False',
      lastTransitionTime: now,
    });
    const started = pod.status?.startTime ?? now;
    pod.status = {
      ...pod.status,
      phase: 'Running',
      hostIP: this.options.internalIp,
      hostIPs: [{ ip: this.options.internalIp }],
      podIP: emulated.ip,
      podIPs: [{ ip: emulated.ip }],
      startTime: started,
      conditions: [
        condition('PodScheduled', true),
        condition('Initialized', true),
        condition('ContainersReady', ready),
        condition('Ready', ready),
      ],
      containerStatuses: [
        {
          name: container?.name ?? '',
          image: container?.image ?? '',
          imageID: '',
          ready,
          restartCount: 0,
          started: !exited,
          state: exited
            ? { terminated: { exitCode: 1, reason: 'Error', startedAt: started, finishedAt: now } }
            : { running: { startedAt: started } },
        },
      ],
    };
    await this.core.replaceNamespacedPodStatus({
      namespace: emulated.namespace,
      name: emulated.name,
      body: pod,
    });
  }

  /**
   * The readiness probe's verdict: tcpSocket probes run on the probe's schedule
   * (initialDelaySeconds, then every periodSeconds, default 10) as the kubelet runs them;
   * between runs the last verdict stands. Without a probe a running container is ready.
   */
  async #readiness(container: V1Container | undefined, emulated: EmulatedPod): Promise<boolean> {
    const probe = container?.readinessProbe;
    if (probe?.tcpSocket === undefined) return true;
    const now = Date.now();
    if (now < emulated.startedAt + (probe.initialDelaySeconds ?? 0) * 1000) return false;
    if (emulated.probedAt !== 0 && now < emulated.probedAt + (probe.periodSeconds ?? 10) * 1000)
      return emulated.ready;
    emulated.probedAt = now;
    return this.#tcpProbe(emulated.ip, Number(probe.tcpSocket.port));
  }

  /** A tcpSocket probe from the node's namespace, as the kubelet dials the pod's IP. */
  async #tcpProbe(ip: string, port: number): Promise<boolean> {
    const { command, args } = this.options.netns.argv(this.options.nodeRole, [
      'timeout',
      '2',
      'bash',
      '-c',
      `exec 3<>/dev/tcp/${ip}/${port}`,
    ]);
    try {
      await exec(command, args);
      return true;
    } catch {
      return false;
    }
  }

  async #stop(pod: EmulatedPod): Promise<void> {
    this.running.delete(pod.uid);
    try {
      process.kill(-pod.process.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await Promise.race([pod.process.exited, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    // Removing the namespace kills whatever still runs in it.
    this.options.netns.remove(pod.role);
    rmSync(join(this.store, 'pods', pod.uid), { recursive: true, force: true });
  }
}

/** A TokenRequest for the pod's ServiceAccount, bound to the pod, as the kubelet asks for it. */
async function boundToken(
  core: CoreV1Api,
  pod: V1Pod,
  source: V1ServiceAccountTokenProjection,
): Promise<string> {
  const request = await core.createNamespacedServiceAccountToken({
    namespace: pod.metadata?.namespace ?? '',
    name: pod.spec?.serviceAccountName ?? 'default',
    body: {
      spec: {
        audiences: source.audience === undefined ? [] : [source.audience],
        expirationSeconds: source.expirationSeconds ?? 3600,
        boundObjectRef: {
          apiVersion: 'v1',
          kind: 'Pod',
          name: pod.metadata?.name ?? '',
          uid: pod.metadata?.uid ?? '',
        },
      },
    },
  });
  const token = request.status?.token;
  if (token === undefined) throw new Error(`TokenRequest for ${source.path} returned no token`);
  return token;
}

function envOf(container: V1Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? [])
    if (variable.value !== undefined) env[variable.name] = variable.value;
  return env;
}
