import {
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Service,
  type V1ServicePort,
} from '@kubernetes/client-node';
import type { NetnsGround } from './netns.ts';

/**
 * An emulated kube-proxy (iptables mode) for one client network namespace: it reads every
 * ClusterIP Service (its address from the real API server's allocator) and its EndpointSlices
 * (made by the real controller-manager's EndpointSlice controller), and installs, in the
 * namespace's nat OUTPUT path, a DNAT of ClusterIP:port to a ready endpoint's ip:port (one
 * chosen at random per connection when there are several), and — as kube-proxy does for a
 * Service without ready endpoints — a REJECT (icmp port-unreachable) in the filter OUTPUT path.
 * The rules are rewritten as a whole with iptables-restore --noflush (declaring a chain
 * flushes it), as kube-proxy does.
 */

const NAT_CHAIN = 'ANEX-SERVICES';
const REJECT_CHAIN = 'ANEX-SVC-REJECT';

export interface KubeProxyOptions {
  kubeConfig: KubeConfig;
  netns: NetnsGround;
  /** the client's namespace role */
  role: string;
  /** @default 1000 */
  intervalMs?: number;
}

export interface KubeProxy {
  /** Reads Services and EndpointSlices and installs their rules now; returns the iptables-restore input. */
  sync(): Promise<string>;
  /** the last rules installed (iptables-restore input) */
  rules(): string;
  errors(): readonly string[];
  stop(): Promise<void>;
}

export function startKubeProxy(options: KubeProxyOptions): KubeProxy {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const discovery = options.kubeConfig.makeApiClient(DiscoveryV1Api);
  const { netns, role } = options;
  for (const [table, chain, hook] of [
    ['nat', NAT_CHAIN, 'OUTPUT'],
    ['filter', REJECT_CHAIN, 'OUTPUT'],
  ] as const) {
    netns.exec(role, ['iptables', '-t', table, '-N', chain]);
    netns.exec(role, ['iptables', '-t', table, '-I', hook, '1', '-j', chain]);
  }
  let installed = '';
  const problems: string[] = [];
  const sync = async (): Promise<string> => {
    const [services, slices] = await Promise.all([
      core.listServiceForAllNamespaces(),
      discovery.listEndpointSliceForAllNamespaces(),
    ]);
    const nat: string[] = [];
    const reject: string[] = [];
    for (const service of services.items) rulesOf(service, slices.items, nat, reject);
    const input = [
      '*nat',
      `:${NAT_CHAIN} - [0:0]`,
      ...nat,
      'COMMIT',
      '*filter',
      `:${REJECT_CHAIN} - [0:0]`,
      ...reject,
      'COMMIT',
      '',
    ].join('\n');
    if (input !== installed) {
      netns.exec(role, ['iptables-restore', '--noflush'], input);
      installed = input;
    }
    return input;
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await sync().catch((error: Error) => {
        problems.push(error.message);
      });
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1_000));
    }
  })();
  return {
    sync,
    rules: () => installed,
    errors: () => problems,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** The DNAT (ready endpoints) or REJECT (none) rules of one Service's TCP ports. */
function rulesOf(
  service: V1Service,
  slices: readonly V1EndpointSlice[],
  nat: string[],
  reject: string[],
): void {
  const ip = service.spec?.clusterIP;
  if (ip === undefined || ip === 'None' || ip === '') return;
  const namespace = service.metadata?.namespace ?? '';
  const name = service.metadata?.name ?? '';
  const mine = slices.filter(
    (s) =>
      s.metadata?.namespace === namespace &&
      s.metadata?.labels?.['kubernetes.io/service-name'] === name &&
      s.addressType === 'IPv4',
  );
  for (const port of service.spec?.ports ?? []) {
    if ((port.protocol ?? 'TCP') !== 'TCP') continue;
    const targets = readyTargets(mine, port);
    const match = `-d ${ip}/32 -p tcp -m tcp --dport ${port.port}`;
    const comment = `-m comment --comment "${namespace}/${name}:${port.port}"`;
    if (targets.length === 0) {
      reject.push(`-A ${REJECT_CHAIN} ${match} ${comment} -j REJECT --reject-with icmp-port-unreachable`);
      continue;
    }
    targets.forEach((target, i) => {
      const left = targets.length - i;
      const chance = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(5)}` : '';
      nat.push(`-A ${NAT_CHAIN} ${match} ${comment}${chance} -j DNAT --to-destination ${target}`);
    });
  }
}

/** `ip:port` of every ready endpoint for the Service port (matched by port name, as kube-proxy does). */
function readyTargets(slices: readonly V1EndpointSlice[], port: V1ServicePort): string[] {
  const targets: string[] = [];
  for (const slice of slices) {
    const slicePort = (slice.ports ?? []).find((p) => (p.name ?? '') === (port.name ?? ''));
    if (slicePort?.port === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      // Ready unset means ready (the API's rule for consumers).
      if (endpoint.conditions?.ready === false) continue;
      const address = endpoint.addresses[0];
      if (address !== undefined) targets.push(`${address}:${slicePort.port}`);
    }
  }
  return targets;
}
