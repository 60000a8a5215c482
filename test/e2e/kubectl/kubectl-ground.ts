import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, RbacAuthorizationV1Api, type V1Pod } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { select } from '../../../lib/filter/select.ts';
import type { PodView } from '../../../lib/kube/cluster.ts';
import { runHeartbeat } from '../../../lib/kube/heartbeat.ts';
import { KubeCluster } from '../../../lib/kube/kube-cluster.ts';
import { virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';
import {
  createProcessScope,
  type ManagedProcess,
  type ProcessScope,
  waitUntil,
} from '../../../lib/local/control-plane/processes.ts';
import { createProvider } from '../../../lib/providers/index.ts';
import { GATEWAY_TRANSPORT, type InstanceTag, type Provider } from '../../../lib/providers/provider.ts';
import { agentLaunch } from '../../../lib/reconcile/agent-launch.ts';
import { selftestRequirements } from '../../../lib/selftest/launch.ts';
import { MachineRunner } from '../../../lib/sim/machines/runner.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { MemoryStore } from '../../../lib/state/memory-store.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { binaryPath } from '../../../lib/tunnel/endpoint/binaries.ts';
import { MemoryAgentBackend } from '../../../lib/tunnel/endpoint/memory-backend.ts';
import { tokenBucketLimiter } from '../../../lib/tunnel/endpoint/rate-limit.ts';
import { type AgentEndpointServer, serveAgentEndpoint } from '../../../lib/tunnel/endpoint/server.ts';
import type { AgentEndpointDeps } from '../../../lib/tunnel/endpoint/types.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import {
  builtAgentArtifact,
  builtFiles,
  parseBuildManifest,
  selfBuiltPin,
} from '../../../lib/tunnel/self-built.ts';
import { newSecret, sha256Hex } from '../../../lib/tunnel/tokens.ts';
import { agentBuildDir } from '../../support/agent-build.ts';
import { anexKubeletBinary } from '../../support/anex-kubelet.ts';
import { adminKubeConfig, controlPlane, eventually } from '../../support/index.ts';
import { kubectlBinary } from '../../support/kubectl.ts';
import { ensureGatewayTools, NetnsGround } from '../../support/netns.ts';
import { freePort } from '../../support/ports.ts';
import {
  closeHttps,
  issueCertificate,
  serveHttps,
  startGateway,
  WIREGUARD_PORT,
  wireguardInterfaceName,
} from '../gateway/gateway-ground.ts';

/**
 * The ground of kubectl on an anex pod (issue #15, ADR 0023), every part real:
 *
 *   root ns: kube-apiserver (127.0.0.1) ── kubectl
 *            agent endpoint (http on loopback for the machine, https on ENDPOINT_IP)
 *            apiserver relay ENDPOINT_IP:P → 127.0.0.1:<apiserver> (for anex-kubelet)
 *        │ bridge ("internet", 172.31.N.0/24)
 *   gateway ns: gateway.sh (wireguard-go wg0) + anex-kubelet :10250 on GW_PUBLIC
 *        │ WireGuard/UDP
 *   vast machine ns: stub → Go agent (agent API 127.0.0.1:10250) → wireproxy (VPN :10250)
 *
 * The virtual node is kept by the product's heartbeat, which publishes the kubelet address
 * the gateway reported to the endpoint (ANEX_KUBELET_ADDRESS → X-Anex-Kubelet-Address →
 * the store → InternalIP + daemonEndpoints). The pod is created through the API server on
 * that node; its machine is rented by the product's adapter from the Vast simulator with the
 * product's agent launch, registered in the endpoint's MemoryAgentBackend under the pod's
 * real UID, and its status written as the reconciler writes it once the agent started. No
 * reconciler pass runs: the reconcile grounds serve the endpoint without a gateway.
 */

const ID = Number(process.pid % 100) + 100;
const NET = `172.31.${ID}`;
/** The cluster network's /24 prefix (gw ns .1, cluster ns .2). */
export const CLUSTER = `192.168.${ID + 50}`; // ID is 100…199: a valid octet
const ENDPOINT_IP = `${NET}.1`;
export const GW_PUBLIC = `${NET}.2`;
const VPN = '10.252.0.0/24';
const IFACE = wireguardInterfaceName();
export const KUBELET_PORT = 10250;
/** The port the workload serves HTTP on, declared as its containerPort. */
export const HTTP_PORT = 8080;
/** A port the workload does not declare (nothing may be forwarded to it). */
export const UNDECLARED_PORT = 8081;
/** The Debian stand-in image (sh, curl; the machine sees this host's tar and python3.11). */
export const IMAGE = 'ghcr.io/example/trainer:1';

/**
 * A minimal HTTP server (the image's python is a simulated stand-in; the machine sees this
 * host's perl): answers every request with its body and a newline, a process per connection
 * as real servers serve connections concurrently (one that never sends its request must not
 * hold up the next).
 */
const SERVER = `use IO::Socket::INET;
my ($port, $body) = @ARGV;
$SIG{CHLD} = 'IGNORE';
my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 64, ReuseAddr => 1) or die "listen $port: $!";
while (1) {
  my $c = $s->accept or next;
  if (fork) { close $c; next }
  close $s;
  while (my $l = <$c>) { last if $l =~ /^\\r?\\n$/ }
  print $c "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: " . (length($body) + 1) . "\\r\\nConnection: close\\r\\n\\r\\n$body\\n";
  close $c;
  exit 0;
}`;

/**
 * The container: HTTP servers on HTTP_PORT and on UNDECLARED_PORT (so a refusal there is
 * the agent's, not an empty port), then a known line and its run's number (the machine's
 * /tmp outlives a restart in place), then a line a second until /tmp/fail-<mark> (exit 1:
 * restartPolicy OnFailure restarts it in place) or /tmp/stop-<mark> (a last line, exit 0).
 */
export function workload(mark: string): string {
  return `
cat > /tmp/serve.pl <<'EOF'
${SERVER}
EOF
/usr/bin/perl /tmp/serve.pl ${HTTP_PORT} served-${mark} >/tmp/http-${HTTP_PORT}.log 2>&1 &
declared=$!
/usr/bin/perl /tmp/serve.pl ${UNDECLARED_PORT} undeclared-${mark} >/tmp/http-${UNDECLARED_PORT}.log 2>&1 &
undeclared=$!
n=0
until curl -s -o /dev/null http://127.0.0.1:${HTTP_PORT}/ && curl -s -o /dev/null http://127.0.0.1:${UNDECLARED_PORT}/; do
  n=$((n+1)); [ $n -ge 150 ] && { echo "http-servers-down-${mark}"; cat /tmp/http-*.log; exit 1; }
  sleep 0.2
done
echo "known-line-${mark}"
run=$(cat /tmp/runs-${mark} 2>/dev/null || echo 0)
echo $((run+1)) > /tmp/runs-${mark}
echo "run-$run-${mark}"
i=0
while [ ! -e /tmp/stop-${mark} ]; do
  if [ -e /tmp/fail-${mark} ]; then
    rm -f /tmp/fail-${mark}; echo "failing-${mark}"; kill $declared $undeclared 2>/dev/null; exit 1
  fi
  i=$((i+1)); echo "tick $i"; sleep 1
done
echo "last-line-${mark}"
kill $declared $undeclared 2>/dev/null
exit 0
`;
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface KubectlGround {
  namespace: string;
  pod: string;
  podUid: string;
  nodeName: string;
  mark: string;
  core: CoreV1Api;
  kubeConfig: KubeConfig;
  netns: NetnsGround;
  runner: MachineRunner;
  sim: VastAiSim;
  adapter: Provider;
  instanceId: string;
  store: MemoryStore;
  backend: MemoryAgentBackend;
  /** the test control plane's client CA (PEM file) */
  clientCa: string;
  kubelet: ManagedProcess;
  /** runs kubectl with the admin kubeconfig in the pod's namespace */
  kubectl(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** starts kubectl (admin kubeconfig, pod's namespace) for a long-running command */
  spawnKubectl(args: readonly string[]): ChildProcess;
  /** the machine's container log as the simulated runtime keeps it */
  containerLog(): string;
  stop(): Promise<void>;
}

const parts = {
  netns: undefined as NetnsGround | undefined,
  scope: undefined as ProcessScope | undefined,
  https: undefined as HttpsServer | undefined,
  http: undefined as AgentEndpointServer | undefined,
  relay: undefined as Server | undefined,
  sim: undefined as VastAiSim | undefined,
  runner: undefined as MachineRunner | undefined,
  beat: undefined as AbortController | undefined,
  heartbeat: undefined as Promise<unknown> | undefined,
  cleanups: [] as (() => Promise<void>)[],
};

export async function startKubectlGround(): Promise<KubectlGround> {
  try {
    return await start();
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Everything but the pod: the networks, the agent endpoint, the gateway, anex-kubelet in the
 * gateway namespace, the virtual node kept by the product's heartbeat, the Vast simulator and
 * the machine runner. `namespace` is the gateway's (anex-kubelet's ServiceAccount lives there).
 */
export interface AnexGround {
  namespace: string;
  nodeName: string;
  suffix: string;
  core: CoreV1Api;
  kubeConfig: KubeConfig;
  netns: NetnsGround;
  scope: ProcessScope;
  runner: MachineRunner;
  sim: VastAiSim;
  adapter: Provider;
  launch: ReturnType<typeof agentLaunch>;
  store: MemoryStore;
  backend: MemoryAgentBackend;
  clientCa: string;
  kubelet: ManagedProcess;
  /** registers a cleanup run by stopAnexGround (`first`: before the others, e.g. destroying machines) */
  onStop(cleanup: () => Promise<void>, options?: { first?: boolean }): void;
}

/** Starts the ground without a pod; stop it with {@link stopAnexGround}. */
export async function startAnexGround(): Promise<AnexGround> {
  try {
    return await startBase();
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export const stopAnexGround = (): Promise<void> => stopAll();

async function start(): Promise<KubectlGround> {
  const ground = await startBase();
  const { namespace, nodeName, core, kubeConfig, netns, runner, sim, adapter, store, backend } = ground;
  const { clientCa, kubelet } = ground;
  const kubectl = kubectlBinary();
  // The pod, on that node, and its machine.
  const mark = randomBytes(6).toString('hex');
  const pod = 'web';
  const created = await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: pod },
      spec: {
        nodeName,
        restartPolicy: 'OnFailure',
        containers: [
          {
            name: 'main',
            image: IMAGE,
            command: ['/bin/sh', '-c', workload(mark)],
            ports: [{ containerPort: HTTP_PORT, protocol: 'TCP' }],
          },
        ],
      },
    },
  });
  const podUid = created.metadata?.uid ?? '';
  const { instanceId, key, vpnAddress } = await runWorkload(ground, created, mark, [HTTP_PORT]);
  // Started, as the agent reported it: the status the reconciler writes (phase Running, the
  // pod IP its VPN address: no forwarding configured here).
  await writeRunning(core, namespace, pod, vpnAddress);

  const env = { ...process.env, KUBECONFIG: controlPlane().kubeconfigPath };
  const base = ['--namespace', namespace];
  return {
    namespace,
    pod,
    podUid,
    nodeName,
    mark,
    core,
    kubeConfig,
    netns,
    runner,
    sim,
    adapter,
    instanceId,
    store,
    backend,
    clientCa,
    kubelet,
    kubectl(args, options = {}) {
      return new Promise((resolve) => {
        const child = execFile(
          kubectl,
          [...base, ...args],
          { env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20, encoding: 'utf8' },
          (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
            resolve({ code, stdout, stderr });
          },
        );
        child.stdin?.end(options.input ?? '');
      });
    },
    spawnKubectl(args) {
      return spawn(kubectl, [...base, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    },
    containerLog: () => runner.logOf(key) ?? '',
    stop: stopAll,
  };
}

async function startBase(): Promise<AnexGround> {
  ensureGatewayTools();
  const kubeletBinary = anexKubeletBinary();
  const netns = new NetnsGround();
  parts.netns = netns;
  const scope = createProcessScope('anex-kubectl-e2e');
  parts.scope = scope;
  buildNetwork(netns);
  const pki = issueCertificate(scope.dir, [ENDPOINT_IP, GW_PUBLIC]);

  // The cluster side: a namespace, the node (kept by the product's heartbeat), RBAC.
  const kubeConfig = adminKubeConfig();
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const suffix = randomBytes(3).toString('hex');
  const namespace = `kubectl-${suffix}`;
  const nodeName = `anex-kubectl-${suffix}`;
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'anex.sh/test': 'true' } } } });
  parts.cleanups.push(async () => {
    await core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  // The agent endpoint, as machines.test.ts serves it.
  const dir = agentBuildDir();
  const manifest = parseBuildManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'), 'manifest.json');
  const gatewayKey = wgKeyPair();
  const gatewayToken = newSecret();
  const url = `http://127.0.0.1:${await freePort()}`;
  const store = new MemoryStore();
  const backend = new MemoryAgentBackend();
  const deps: AgentEndpointDeps = {
    store,
    backend,
    now: () => Date.now(),
    rateLimiter: tokenBucketLimiter({ capacity: 1000 }),
    logger: { info: () => undefined, warn: () => undefined },
    settings: {
      vpnRange: parseVpnRange(VPN),
      gatewayPublicKey: gatewayKey.publicKey,
      udpEndpoint: `${GW_PUBLIC}:${WIREGUARD_PORT}`,
      clusterCidrs: [`${CLUSTER}.0/24`],
      dns: [],
      readyTimeoutSeconds: 90,
      gatewayTokenHash: sha256Hex(gatewayToken),
      binaries: {
        wireproxy: selfBuiltPin(manifest, 'wireproxy', (arch) => `${url}${binaryPath('wireproxy', arch)}`),
        wstunnel: selfBuiltPin(manifest, 'wstunnel', (arch) => `${url}${binaryPath('wstunnel', arch)}`),
      },
      allowInsecureBinaryUrls: true,
    },
    agentDownload: async (arch) => `${url}${binaryPath('agent', arch)}`,
  };
  parts.http = await serveAgentEndpoint({
    host: '127.0.0.1',
    port: Number(new URL(url).port),
    deps,
    binaries: builtFiles(dir, manifest),
  });
  parts.https = await serveHttps(pki, deps, ENDPOINT_IP);
  const endpointUrl = `https://${ENDPOINT_IP}:${(parts.https.address() as { port: number }).port}`;

  // The gateway, reporting the kubelet API's address with each peer sync.
  await startGateway(
    scope,
    netns,
    { privateKey: gatewayKey.privateKey, token: gatewayToken },
    {
      PATH: process.env.PATH,
      ANEX_AGENT_URL: endpointUrl,
      ANEX_VPN_CIDR: VPN,
      ANEX_GATEWAY_ADDRESS: '10.252.0.1',
      ANEX_SYNC_INTERVAL: '2',
      ANEX_SECRETS_DIR: scope.dir,
      ANEX_STATE_DIR: join(scope.dir, 'gateway-state'),
      ANEX_WG_INTERFACE: IFACE,
      ANEX_NODE_CIDRS: `${CLUSTER}.0/24`,
      ANEX_KUBELET_ADDRESS: `${GW_PUBLIC}:${KUBELET_PORT}`,
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      CURL_CA_BUNDLE: pki.ca,
    },
  );
  await waitUntil(async () => (await store.getKubeletAddress()) !== undefined, {
    what: 'the gateway reporting the kubelet address to the endpoint',
    timeoutMs: 20_000,
  });

  // The node, published by the product's heartbeat with the reported address.
  const cluster = new KubeCluster({ kubeConfig });
  const spec = virtualNodeSpec('vastai', nodeName);
  await cluster.ensureNode(spec, { now: Date.now() });
  parts.cleanups.push(async () => {
    await core.deleteNode({ name: nodeName }).catch(() => undefined);
  });
  parts.beat = new AbortController();
  parts.heartbeat = runHeartbeat({
    cluster,
    nodes: [spec],
    intervalMs: 3_000,
    until: Date.now() + 3_600_000,
    signal: parts.beat.signal,
    now: Date.now,
    kubeletAddress: () => store.getKubeletAddress(),
  });

  // anex-kubelet's identity: a ServiceAccount with what the manifests grant it.
  const kubeletToken = await kubeletServiceAccount(core, rbac, namespace, suffix);
  const caPem = clusterCa(controlPlane().kubeconfigYaml);
  const clientCa = join(scope.dir, 'cluster-ca.pem');
  writeFileSync(clientCa, caPem);
  const relayPort = await startApiserverRelay(controlPlane().server);
  const kubeletKubeconfig = join(scope.dir, 'kubelet.kubeconfig');
  writeFileSync(
    kubeletKubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'test',
          cluster: {
            server: `https://${ENDPOINT_IP}:${relayPort}`,
            // The API server's certificate names localhost; the relay is only a pipe.
            'tls-server-name': 'localhost',
            'certificate-authority-data': Buffer.from(caPem).toString('base64'),
          },
        },
      ],
      users: [{ name: 'anex-kubelet', user: { token: kubeletToken } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'anex-kubelet' } }],
      'current-context': 'test',
    }),
    { mode: 0o600 },
  );
  const kubelet = scope.spawn({
    name: 'anex-kubelet',
    ...netns.argv('gw', [
      kubeletBinary,
      `--listen=${GW_PUBLIC}:${KUBELET_PORT}`,
      `--advertise-address=${GW_PUBLIC}`,
      `--agent-url=${endpointUrl}`,
      `--peers-token-file=${join(scope.dir, 'peers-token')}`,
      `--node-names=${nodeName}`,
      `--client-ca=${clientCa}`,
      `--kubeconfig=${kubeletKubeconfig}`,
    ]),
    // The endpoint's test CA (a real one has a public certificate). POD_NAMESPACE as the
    // manifests' downward API gives it: the forwarders' ServiceAccount is `<it>/anex-forwarder`.
    env: { PATH: process.env.PATH, SSL_CERT_FILE: pki.ca, POD_NAMESPACE: namespace },
  });
  await waitUntil(async () => readFileSync(kubelet.logPath, 'utf8').includes('serving the kubelet API'), {
    what: 'anex-kubelet serving',
    timeoutMs: 20_000,
    process: kubelet,
  });
  await waitUntil(
    async () => {
      const node = await core.readNode({ name: nodeName });
      const addresses = node.status?.addresses ?? [];
      return addresses.some((a) => a.type === 'InternalIP' && a.address === GW_PUBLIC);
    },
    { what: `node ${nodeName} advertising InternalIP ${GW_PUBLIC}`, timeoutMs: 30_000 },
  );

  const sim = new VastAiSim({ seed: 7, offers: 100 });
  parts.sim = sim;
  const simUrl = await sim.start();
  const runner = new MachineRunner({
    hosts: { vastai: sim },
    network: { bridge: `b${netns.id}`, netns: netns.name('in'), address: () => `${NET}.20/24` },
  });
  parts.runner = runner;
  runner.start();
  const adapter = createProvider('vastai', { apiKey: 'e2e-key', baseUrl: simUrl, clusterId: 'kubectl-e2e' });
  const launch = agentLaunch({
    store,
    range: deps.settings.vpnRange,
    endpointUrl: url,
    insecure: true,
    now: Date.now,
    agent: builtAgentArtifact(manifest),
  });
  return {
    namespace,
    nodeName,
    suffix,
    core,
    kubeConfig,
    netns,
    scope,
    runner,
    sim,
    adapter,
    launch,
    store,
    backend,
    clientCa,
    kubelet,
    onStop(cleanup, options = {}) {
      if (options.first === true) parts.cleanups.unshift(cleanup);
      else parts.cleanups.push(cleanup);
    },
  };
}

/** A running workload's machine, as {@link runWorkload} rented it. */
export interface RunningWorkload {
  instanceId: string;
  /** the runner's key of the machine (`vastai/<id>`) */
  key: string;
  /** the pod's VPN address */
  vpnAddress: string;
}

/**
 * Rents the pod's machine with the product's adapter and agent launch, registers the pod in
 * the endpoint's backend under its UID with `ports` declared, and waits until the workload
 * printed its known line (its HTTP servers answer) and the gateway has the peer. The machine
 * is destroyed when the ground stops (first, so nothing leaks).
 */
export async function runWorkload(
  base: AnexGround,
  created: V1Pod,
  mark: string,
  ports: readonly number[],
): Promise<RunningWorkload> {
  const { backend, adapter, launch, runner, store, netns } = base;
  const podUid = created.metadata?.uid ?? '';
  const command = created.spec?.containers[0]?.command ?? [];
  backend.addPod({
    podUid,
    transport: GATEWAY_TRANSPORT.vastai,
    command: [...command],
    args: [],
    env: {},
    restartPolicy: created.spec?.restartPolicy === 'Always' ? 'Always' : 'OnFailure',
    ports: [...ports],
  });
  const instanceId = await rent(adapter, launch, created, podUid);
  base.onStop(
    async () => {
      await adapter.destroy(instanceId, {}).catch(() => 'gone');
    },
    { first: true },
  );
  const key = `vastai/${instanceId}`;
  await waitUntil(
    async () => {
      const log = runner.logOf(key) ?? '';
      return log.includes(`known-line-${mark}\n`) || log.includes(`http-servers-down-${mark}`);
    },
    { what: `the machine's workload (${key}) printing its known line`, timeoutMs: 180_000 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- its container log ---\n${(runner.logOf(key) ?? '').slice(-4000)}`);
  });
  if ((runner.logOf(key) ?? '').includes(`http-servers-down-${mark}`))
    throw new Error(`the workload's HTTP servers did not start:\n${(runner.logOf(key) ?? '').slice(-4000)}`);
  const allocation = await eventually(
    async () => (await store.listAddresses()).find((a) => a.podUid === podUid),
    { what: 'the pod’s VPN address', timeoutMs: 30_000 },
  );
  await waitForPeer(netns, allocation.address);
  return { instanceId, key, vpnAddress: allocation.address };
}

async function stopAll(): Promise<void> {
  parts.beat?.abort();
  await parts.heartbeat;
  for (const cleanup of parts.cleanups.splice(0)) await cleanup();
  await parts.runner?.stop();
  await parts.sim?.stop();
  await parts.http?.close();
  await closeHttps(parts.https);
  await new Promise<void>((resolve) => (parts.relay ? parts.relay.close(() => resolve()) : resolve()));
  await parts.scope?.close();
  parts.netns?.close();
}

function buildNetwork(n: NetnsGround): void {
  n.add('in');
  const bridge = `b${n.id}`;
  n.exec('in', ['ip', 'link', 'add', bridge, 'type', 'bridge']);
  n.exec('in', ['ip', 'link', 'set', bridge, 'up']);
  n.add('gw', { etc: { hosts: '127.0.0.1 localhost\n' } });
  n.add('cluster');
  n.link('r', { role: 'root', address: `${ENDPOINT_IP}/24` }, { role: 'in', master: bridge });
  n.link('g', { role: 'gw', address: `${GW_PUBLIC}/24` }, { role: 'in', master: bridge });
  n.link('c', { role: 'gw', address: `${CLUSTER}.1/24` }, { role: 'cluster', address: `${CLUSTER}.2/24` });
  n.exec('gw', ['ip', 'route', 'add', 'default', 'via', `${CLUSTER}.2`]);
  n.exec('gw', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
}

/** The CA of the test control plane (it signs the client certificates too), from its kubeconfig. */
function clusterCa(kubeconfigYaml: string): string {
  const doc = parse(kubeconfigYaml) as { clusters?: { cluster?: Record<string, string> }[] };
  const data = doc.clusters?.[0]?.cluster?.['certificate-authority-data'];
  if (data === undefined) throw new Error('the admin kubeconfig has no certificate-authority-data');
  return Buffer.from(data, 'base64').toString('utf8');
}

/**
 * A TCP relay on ENDPOINT_IP to the API server (which listens on the root namespace's
 * loopback only), so anex-kubelet in the gateway namespace reaches it as a pod reaches
 * `kubernetes.default`.
 */
async function startApiserverRelay(server: string): Promise<number> {
  const target = new URL(server);
  const relay = createServer((socket) => {
    const upstream = connect(Number(target.port), target.hostname);
    socket.pipe(upstream).pipe(socket);
    const end = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  parts.relay = relay;
  await new Promise<void>((resolve) => relay.listen(0, ENDPOINT_IP, () => resolve()));
  return (relay.address() as { port: number }).port;
}

/**
 * The gateway ServiceAccount's grants for anex-kubelet (manifests: system:auth-delegator for
 * TokenReview/SubjectAccessReview, get/list pods); its token by the TokenRequest API.
 */
async function kubeletServiceAccount(
  core: CoreV1Api,
  rbac: RbacAuthorizationV1Api,
  namespace: string,
  suffix: string,
): Promise<string> {
  const name = 'anex-kubelet';
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const subjects = [{ kind: 'ServiceAccount', name, namespace }];
  const role = `anex-kubelet-e2e-${suffix}`;
  await rbac.createClusterRole({
    body: {
      metadata: { name: role },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: role },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects,
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: `${role}-delegator` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects,
    },
  });
  parts.cleanups.push(async () => {
    await rbac.deleteClusterRoleBinding({ name: role }).catch(() => undefined);
    await rbac.deleteClusterRoleBinding({ name: `${role}-delegator` }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: role }).catch(() => undefined);
  });
  return serviceAccountToken(core, namespace, name);
}

/** A one-hour token of the ServiceAccount (TokenRequest). */
export async function serviceAccountToken(core: CoreV1Api, namespace: string, name: string): Promise<string> {
  const request = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = request.status?.token;
  if (token === undefined) throw new Error(`no token issued for ServiceAccount ${namespace}/${name}`);
  return token;
}

/** Rents the machine with the product's adapter, filter and agent launch; its instance id. */
async function rent(
  adapter: Provider,
  launch: ReturnType<typeof agentLaunch>,
  created: V1Pod,
  podUid: string,
): Promise<string> {
  const requirements = selftestRequirements(adapter.name);
  const deadline = Date.now() + 60_000;
  const offers = await adapter.listOffers(requirements, { deadline });
  const offer = select(requirements, offers, [], Date.now())[0];
  if (offer === undefined) throw new Error(`${adapter.name}: no offer for the selftest's requirements`);
  const tag: InstanceTag = { clusterId: 'kubectl-e2e', podUid };
  const container = created.spec?.containers[0];
  const pod: PodView = {
    namespace: created.metadata?.namespace ?? '',
    name: created.metadata?.name ?? '',
    uid: podUid,
    annotations: {},
    labels: {},
    nodeSelector: {},
    containers: [{ name: 'main', image: IMAGE, command: container?.command ?? [], env: {} }],
    restartPolicy: 'OnFailure',
    status: undefined,
  };
  const built = await launch({ pod, requirements, tag });
  const created2 = await adapter.create(offer, built.spec, tag, { deadline });
  if (created2.outcome !== 'created') throw new Error(`${adapter.name}: create ${created2.outcome}`);
  return created2.instance.id;
}

/**
 * The status the reconciler writes when the agent reports `started` (phase Running, Ready).
 * `podIp` undefined: forwarding is configured, so the product sets podIP to its forwarder's
 * (ADR 0024) and no other write may (the API server refuses to change a podIP once set).
 */
export async function writeRunning(
  core: CoreV1Api,
  namespace: string,
  name: string,
  podIp: string | undefined,
): Promise<void> {
  const pod = await core.readNamespacedPod({ namespace, name });
  const now = new Date();
  pod.status = {
    ...pod.status,
    phase: 'Running',
    ...(podIp === undefined ? {} : { podIP: podIp, podIPs: [{ ip: podIp }] }),
    startTime: now,
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
      { type: 'Initialized', status: 'True', lastTransitionTime: now },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
      { type: 'Ready', status: 'True', lastTransitionTime: now },
    ],
    containerStatuses: [
      {
        name: 'main',
        image: IMAGE,
        imageID: '',
        ready: true,
        restartCount: 0,
        started: true,
        state: { running: { startedAt: now } },
      },
    ],
  };
  await core.replaceNamespacedPodStatus({ namespace, name, body: pod });
}

/** The status the reconciler writes when the run ended with exit code 0. */
export async function writeSucceeded(core: CoreV1Api, namespace: string, name: string): Promise<void> {
  const pod = await core.readNamespacedPod({ namespace, name });
  const now = new Date();
  const started = pod.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? now;
  pod.status = {
    ...pod.status,
    phase: 'Succeeded',
    containerStatuses: [
      {
        name: 'main',
        image: IMAGE,
        imageID: '',
        ready: false,
        restartCount: 0,
        started: false,
        state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: started, finishedAt: now } },
      },
    ],
  };
  await core.replaceNamespacedPodStatus({ namespace, name, body: pod });
}

/** Waits until the gateway has the pod's peer (its WireGuard handshake done). */
async function waitForPeer(netns: NetnsGround, address: string): Promise<void> {
  await waitUntil(
    async () => {
      const handshakes = netns.exec('gw', ['wg', 'show', IFACE, 'allowed-ips']);
      const peer = handshakes.split('\n').find((l) => l.includes(`${address}/32`));
      if (peer === undefined) return false;
      const key = peer.split('\t')[0] ?? '';
      const latest = netns.exec('gw', ['wg', 'show', IFACE, 'latest-handshakes']);
      const line = latest.split('\n').find((l) => l.startsWith(`${key}\t`));
      return Number(line?.split('\t')[1] ?? '0') > 0;
    },
    { what: `the gateway's WireGuard handshake with ${address}`, timeoutMs: 90_000 },
  );
}
