import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { AppsV1Api, type V1Pod } from '@kubernetes/client-node';
import type { PodView } from '../../../lib/kube/cluster.ts';
import { KubeCluster } from '../../../lib/kube/kube-cluster.ts';
import { requiredTaints } from '../../../lib/kube/virtual-node.ts';
import {
  DEFAULT_FORWARDER_AUDIENCE,
  DEFAULT_FORWARDER_SERVICE_ACCOUNT,
  type ForwarderSync,
  type ForwardingConfig,
  forwarderName,
  syncForwarders,
} from '../../../lib/reconcile/forwarders.ts';
import { anexKubeletBinary } from '../../support/anex-kubelet.ts';
import { type ClusterNode, startClusterNode } from '../../support/cluster-node.ts';
import { eventually } from '../../support/index.ts';
import { type KubeProxy, startKubeProxy } from '../../support/kube-proxy.ts';
import {
  type AnexGround,
  CLUSTER,
  GW_PUBLIC,
  HTTP_PORT,
  IMAGE,
  KUBELET_PORT,
  type RunningWorkload,
  runWorkload,
  startAnexGround,
  stopAnexGround,
  workload,
  writeRunning,
} from './kubectl-ground.ts';

/**
 * The ground of Services reaching anex pods (issue #15 item 3, ADR 0024): the kubectl ground
 * (real API server, controller-manager and scheduler; the real gateway and anex-kubelet in the
 * gateway namespace; Vast machines over real WireGuard) plus the cluster parts a cluster's
 * node agents would provide, emulated:
 *
 *   gateway ns (anex-kubelet on GW_PUBLIC:10250) ── CLUSTER.1
 *        │ veth
 *   cluster ns = the ordinary node `e2e-node-<suffix>` (CLUSTER.2; routes GW_PUBLIC via CLUSTER.1)
 *        │ pod bridge POD.1/24
 *   pod namespaces (POD.10, .11, …): each pod the real scheduler binds to the node, run by
 *   the emulated kubelet (test/support/cluster-node.ts) — the forwarder, and `client`, an
 *   ordinary pod whose namespace has the emulated kube-proxy's rules
 *   (test/support/kube-proxy.ts).
 *
 * So a forwarder pod reaches anex-kubelet at https://GW_PUBLIC:10250 as a pod reaches the
 * gateway pod's address, and `curl` in the client pod reaches a ClusterIP as through kube-proxy.
 */

const run = promisify(execFile);

/** The pod network behind the node (any prefix: it lives in this ground's namespaces only). */
export const POD_PREFIX = '10.244.7';
/** The URL the forwarders dial: anex-kubelet's address in the gateway namespace. */
export const KUBELET_URL = `https://${GW_PUBLIC}:${KUBELET_PORT}`;

export interface CurlResult {
  /** curl's exit code (0 answered, 7 refused, 28 timed out, 52/56 reset or empty) */
  code: number;
  /** the HTTP status (0 without an answer) */
  status: number;
  body: string;
}

export interface ServicesGround {
  base: AnexGround;
  node: ClusterNode;
  proxy: KubeProxy;
  /** the namespace of the workloads and the client (the gateway's is base.namespace) */
  namespace: string;
  /** the client pod's NetnsGround role */
  clientRole: string;
  /** curl from the client pod's network namespace */
  curl(
    url: string,
    options?: { maxTimeSeconds?: number; headers?: readonly string[]; method?: string },
  ): Promise<CurlResult>;
  /** runs a command in the client pod's network namespace: its exit code and stdout */
  inClient(args: readonly string[]): Promise<{ code: number; stdout: string }>;
  stop(): Promise<void>;
}

const parts = {
  node: undefined as ClusterNode | undefined,
  proxy: undefined as KubeProxy | undefined,
};

export async function startServicesGround(): Promise<ServicesGround> {
  try {
    return await start();
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function stopAll(): Promise<void> {
  await parts.proxy?.stop();
  // Before the base: its namespaces go with it, the node's pods first.
  await parts.node?.stop();
  await stopAnexGround();
}

async function start(): Promise<ServicesGround> {
  const base = await startAnexGround();
  const { netns, core, kubeConfig, suffix } = base;
  // The node's pod bridge, and its route to the gateway pod's address.
  const bridge = `k${netns.id}`;
  netns.exec('cluster', ['ip', 'link', 'add', bridge, 'type', 'bridge']);
  netns.exec('cluster', ['ip', 'addr', 'add', `${POD_PREFIX}.1/24`, 'dev', bridge]);
  netns.exec('cluster', ['ip', 'link', 'set', bridge, 'up']);
  netns.exec('cluster', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  netns.exec('cluster', ['ip', 'route', 'add', `${GW_PUBLIC}/32`, 'via', `${CLUSTER}.1`]);

  const namespace = `svc-${suffix}`;
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'anex.sh/test': 'true' } } } });
  base.onStop(async () => {
    await core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  // The forwarders' identity, as the manifests make it: no RBAC rights, its token only proves who it is.
  await core.createNamespacedServiceAccount({
    namespace: base.namespace,
    body: { metadata: { name: DEFAULT_FORWARDER_SERVICE_ACCOUNT } },
  });

  const node = await startClusterNode({
    kubeConfig,
    name: `e2e-node-${suffix}`,
    netns,
    nodeRole: 'cluster',
    bridge,
    podPrefix: POD_PREFIX,
    internalIp: `${CLUSTER}.2`,
    scope: base.scope,
    images: { 'anex-kubelet': anexKubeletBinary() },
  });
  parts.node = node;

  // The client: an ordinary pod the real scheduler binds to the ordinary node.
  const client = await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: 'client' },
      spec: {
        containers: [{ name: 'client', image: 'debian:bookworm-slim', command: ['sleep', 'infinity'] }],
        terminationGracePeriodSeconds: 1,
      },
    },
  });
  const uid = client.metadata?.uid ?? '';
  const running = await eventually(
    async () => {
      const pod = node.pods().get(uid);
      const read = await core.readNamespacedPod({ namespace, name: 'client' });
      return pod !== undefined && podReady(read) ? pod : undefined;
    },
    { what: `the client pod running on ${node.name} (${node.errors().join('; ')})`, timeoutMs: 60_000 },
  );
  const proxy = startKubeProxy({ kubeConfig, netns, role: running.role });
  parts.proxy = proxy;

  return {
    base,
    node,
    proxy,
    namespace,
    clientRole: running.role,
    async curl(url, options = {}) {
      const args = ['-sk', '--max-time', String(options.maxTimeSeconds ?? 10), '-w', '\n%{http_code}'];
      for (const header of options.headers ?? []) args.push('-H', header);
      if (options.method !== undefined) args.push('-X', options.method);
      const { command, args: argv } = netns.argv(running.role, ['curl', ...args, url]);
      try {
        const { stdout } = await run(command, argv, { encoding: 'utf8' });
        return parsed(0, stdout);
      } catch (error) {
        const e = error as { code?: number; stdout?: string };
        return parsed(typeof e.code === 'number' ? e.code : -1, e.stdout ?? '');
      }
    },
    async inClient(args) {
      const { command, args: argv } = netns.argv(running.role, args);
      try {
        const { stdout } = await run(command, argv, { encoding: 'utf8' });
        return { code: 0, stdout };
      } catch (error) {
        const e = error as { code?: number; stdout?: string };
        return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '' };
      }
    },
    stop: stopAll,
  };
}

function parsed(code: number, stdout: string): CurlResult {
  const at = stdout.lastIndexOf('\n');
  return { code, status: Number(stdout.slice(at + 1)) || 0, body: at < 0 ? '' : stdout.slice(0, at) };
}

/** The pod's Ready condition is True. */
export function podReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The anex namespace's forwarding settings, as the controller's configuration gives them. */
export function forwardingConfig(ground: ServicesGround): ForwardingConfig {
  return {
    namespace: ground.base.namespace,
    // The emulated kubelet runs command[0] `anex-kubelet` from its image store.
    image: 'ghcr.io/example/anex-gateway:e2e',
    kubeletUrl: KUBELET_URL,
    serviceAccount: DEFAULT_FORWARDER_SERVICE_ACCOUNT,
    audience: DEFAULT_FORWARDER_AUDIENCE,
  };
}

/** An anex Deployment's pod, its machine running the workload. */
export interface AnexDeployment {
  deployment: string;
  /** the pods' `app` label value */
  app: string;
  mark: string;
  pod: V1Pod;
  name: string;
  uid: string;
  machine: RunningWorkload;
}

/**
 * A Deployment (1 replica) of the HTTP workload on the anex virtual node (its nodeSelector and
 * tolerations), HTTP_PORT declared and UNDECLARED_PORT not: the real ReplicaSet controller
 * creates the pod, the real scheduler binds it to the virtual node. Its machine is rented as
 * the reconciler would, and the pod's status written as the reconciler writes it once the
 * agent started — without a podIP (forwarding is configured: the product sets it).
 */
export async function startAnexDeployment(ground: ServicesGround): Promise<AnexDeployment> {
  const { base, namespace } = ground;
  const apps = base.kubeConfig.makeApiClient(AppsV1Api);
  const mark = randomBytes(6).toString('hex');
  const app = `web-${mark}`;
  const deployment = 'web';
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: deployment },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app } },
        template: {
          metadata: { labels: { app } },
          spec: {
            nodeSelector: { 'kubernetes.io/hostname': base.nodeName },
            tolerations: requiredTaints('vastai').map((t) => ({
              key: t.key,
              operator: 'Exists',
              effect: t.effect,
            })),
            containers: [
              {
                name: 'main',
                image: IMAGE,
                command: ['/bin/sh', '-c', workload(mark)],
                ports: [{ name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' }],
              },
            ],
          },
        },
      },
    },
  });
  const pod = await eventually(
    async () => {
      const list = await base.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
      return list.items.find((p) => p.spec?.nodeName === base.nodeName);
    },
    { what: `the Deployment's pod bound to ${base.nodeName}`, timeoutMs: 60_000 },
  );
  const name = pod.metadata?.name ?? '';
  const machine = await runWorkload(base, pod, mark, [HTTP_PORT]);
  await writeRunning(base.core, namespace, name, undefined);
  return { deployment, app, mark, pod, name, uid: pod.metadata?.uid ?? '', machine };
}

/** One forwarder pass as the reconciler runs it: the anex pod as it is now, its machine launched. */
export async function forwardOnce(ground: ServicesGround, anex: AnexDeployment): Promise<ForwarderSync> {
  const cluster = new KubeCluster({ kubeConfig: ground.base.kubeConfig });
  const view: PodView | undefined = await cluster.getPod(ground.namespace, anex.name);
  const pods = view === undefined ? [] : [{ view, launched: true }];
  const result = await syncForwarders(cluster, forwardingConfig(ground), pods, {
    now: Date.now(),
    full: true,
  });
  if (result.errors.length > 0) throw new Error(`syncForwarders: ${JSON.stringify(result.errors)}`);
  return result;
}

/**
 * Runs forwarder passes until the forwarder is Running and Ready (the emulated kubelet's
 * readiness probe) and the anex pod's podIP is the forwarder's; returns the forwarder.
 */
export async function forwardUntilAddressed(ground: ServicesGround, anex: AnexDeployment): Promise<V1Pod> {
  const { core, namespace: anexNamespace } = ground.base;
  const name = forwarderName(anex.uid);
  return eventually(
    async () => {
      await forwardOnce(ground, anex);
      const forwarder = await core
        .readNamespacedPod({ namespace: anexNamespace, name })
        .catch(() => undefined);
      const pod = await core.readNamespacedPod({ namespace: ground.namespace, name: anex.name });
      const ip = forwarder?.status?.podIP;
      return forwarder !== undefined && podReady(forwarder) && ip !== undefined && pod.status?.podIP === ip
        ? forwarder
        : undefined;
    },
    {
      what: `forwarder ${name} Running and Ready and the anex pod's podIP its IP (kubelet: ${ground.node.errors().join('; ')})`,
      timeoutMs: 90_000,
      describe: async () => {
        const forwarder = await core
          .readNamespacedPod({ namespace: anexNamespace, name })
          .catch(() => undefined);
        const pid = [...ground.node.pods().values()].find((p) => p.name === name)?.process;
        return `forwarder status ${JSON.stringify(forwarder?.status?.conditions)} podIP ${forwarder?.status?.podIP}; its log: ${pid?.logTail(20) ?? '(not running)'}; kubelet: ${ground.node.errors().join('; ')}`;
      },
    },
  );
}
