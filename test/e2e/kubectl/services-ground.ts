import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { anexKubeletBinary } from '../../support/anex-kubelet.ts';
import { type ClusterNode, startClusterNode } from '../../support/cluster-node.ts';
import { eventually } from '../../support/index.ts';
import { type KubeProxy, startKubeProxy } from '../../support/kube-proxy.ts';
import {
  type AnexGround,
  CLUSTER,
  GW_PUBLIC,
  KUBELET_PORT,
  startAnexGround,
  stopAnexGround,
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
  curl(url: string, options?: { maxTimeSeconds?: number; headers?: readonly string[] }): Promise<CurlResult>;
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
      const { command, args: argv } = netns.argv(running.role, ['curl', ...args, url]);
      try {
        const { stdout } = await run(command, argv, { encoding: 'utf8' });
        return parsed(0, stdout);
      } catch (error) {
        const e = error as { code?: number; stdout?: string };
        return parsed(typeof e.code === 'number' ? e.code : -1, e.stdout ?? '');
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
