import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowEgressDestinations } from '../../../lib/annotations/allow-egress.ts';
import { select } from '../../../lib/filter/select.ts';
import type { PodView } from '../../../lib/kube/cluster.ts';
import {
  createProcessScope,
  type ManagedProcess,
  type ProcessScope,
  waitUntil,
} from '../../../lib/local/control-plane/processes.ts';
import type { ProviderName } from '../../../lib/offers/offer.ts';
import { createProvider } from '../../../lib/providers/index.ts';
import { GATEWAY_TRANSPORT, type InstanceTag, type Provider } from '../../../lib/providers/provider.ts';
import { agentLaunch } from '../../../lib/reconcile/agent-launch.ts';
import { selftestRequirements } from '../../../lib/selftest/launch.ts';
import { MachineRunner } from '../../../lib/sim/machines/runner.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
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
import { ensureGatewayTools, NetnsGround } from '../../support/netns.ts';
import { freePort } from '../../support/ports.ts';
import {
  closeHttps,
  gatewaySyncs,
  issueCertificate,
  serveHttps,
  startGateway,
  startGatewayWstunnel,
  startServices,
  WIREGUARD_PORT,
  WSTUNNEL_PORT,
  wireguardInterfaceName,
} from './gateway-ground.ts';

/**
 * The last step of issue #16 §6: simulated machines (lib/sim/machines, namespaces mode) run
 * what the provider's runtime starts — the real launch stub, which fetches the real Go agent,
 * which bootstraps, downloads its tunnel helpers and brings the tunnel up — through the real
 * gateway.sh (wireguard-go, wg, iptables) in its own namespace, a Vast machine over
 * WireGuard/UDP and a RunPod machine over wstunnel (lib/providers/provider.ts GATEWAY_TRANSPORT).
 *
 *   root (agent endpoint: http on loopback for the machines, https for the gateway's sync) ─┐
 *   vast machine ns (stub → agent → wireproxy) ──────── "internet" bridge ── gateway ns ── cluster ns
 *   runpod machine ns (stub → agent → wstunnel + wireproxy) ┘ (172.30.N.0/24)         (192.168.M.0/24)
 *
 * Each machine joins the bridge through the runner's MachineNetwork (a veth moved into its own
 * network namespace): it reaches the gateway's public UDP and wss ports as a rented host reaches
 * the internet, and the agent endpoint only by its loopback URL (lib/sim/machines/forward.ts).
 *
 * No reconciler: the existing grounds (test/e2e/reconcile/agent-ground.ts) serve the endpoint
 * with transport `none` and no gateway settings, and nothing asserted here needs a pass or a
 * Kubernetes pod. Instead each machine is
 * rented by the product's provider adapter (createProvider) from its simulator, the offer chosen
 * by the product's filter (select, the selftest's requirements), with the launch built by the
 * product's agent launch builder (agentLaunch: the stub, the endpoint URL, a bootstrap token
 * issued into the endpoint's store); the pod the agent fetches at bootstrap is registered in the
 * endpoint's MemoryAgentBackend. The one addition to the launch is SSL_CERT_FILE, naming the test
 * CA the gateway's wss certificate is issued by (a real host trusts the public CA of a real one).
 *
 * The pod's workload (sh + curl) prints one `result:<name>=<body> <http code>` line per target,
 * then `all-<nonce>-probed`; the test reads the machine's container log and the services' own
 * log of hits.
 */

const exec = promisify(execFile);
const ID = Number(process.pid % 100) + 100;
const NET = `172.30.${ID}`;
const CLUSTER = `192.168.${ID + 50}`;
const ENDPOINT_IP = `${NET}.1`;
const GW_PUBLIC = `${NET}.2`;
const NODE_IP = `${CLUSTER}.2`;
const VPN = '10.251.0.0/24';
const IFACE = wireguardInterfaceName();
const TUNNEL_PORT = 15000;
const ADDRESSES = { web: '10.96.0.20', other: '10.96.0.30', dns: '10.96.0.10' } as const;
const IMDS = '169.254.169.254';
const PROVIDERS = ['vastai', 'runpod'] as const satisfies readonly ProviderName[];
/** The image the pods run (a Debian stand-in with sh and curl: lib/sim/common/images.ts). */
const IMAGE = 'ghcr.io/example/trainer:1';

/**
 * The pod's container: waits until its GW_TUNNEL port answers (the gateway may apply the
 * peer's rules a sync after its key), then tries each target once with a unique path.
 */
const WORKLOAD = `
n=0
until [ "$(curl -s --max-time 3 "http://127.0.0.1:${TUNNEL_PORT}/warmup-$PROBE")" = web ]; do
  n=$((n+1)); [ $n -ge 60 ] && break; sleep 1
done
probe() {
  name=$1; shift
  printf 'result:%s=%s\\n' "$name" "$(curl -s --max-time 4 -w ' %{http_code}' "$@" 2>/dev/null | tr -d '\\n' | cut -c1-200)"
}
probe tunnel "http://127.0.0.1:${TUNNEL_PORT}/probe-$PROBE-tunnel"
probe proxied -x http://127.0.0.1:3128 "http://${ADDRESSES.web}/probe-$PROBE-proxied"
probe other -x http://127.0.0.1:3128 "http://${ADDRESSES.other}/probe-$PROBE-other"
probe imds -x http://127.0.0.1:3128 "http://${IMDS}/probe-$PROBE-imds"
probe direct --noproxy '*' "http://${ADDRESSES.other}/probe-$PROBE-direct"
echo "all-$PROBE-probed"
exec sleep 3600
`;

interface Rented {
  provider: ProviderName;
  adapter: Provider;
  sim: VastAiSim | RunPodSim;
  runner: MachineRunner;
  instanceId: string;
  podUid: string;
  probe: string;
  /** the container log once the workload printed all its results */
  log: string;
}

const ground = {
  netns: undefined as NetnsGround | undefined,
  scope: undefined as ProcessScope | undefined,
  https: undefined as Server | undefined,
  http: undefined as AgentEndpointServer | undefined,
  sims: [] as (VastAiSim | RunPodSim)[],
  runners: [] as MachineRunner[],
};
let deps: AgentEndpointDeps;
let cluster: ManagedProcess;
const rented = new Map<ProviderName, Rented>();

function netns(): NetnsGround {
  if (ground.netns === undefined) throw new Error('no network namespaces');
  return ground.netns;
}

function scope(): ProcessScope {
  if (ground.scope === undefined) throw new Error('no process scope');
  return ground.scope;
}

beforeAll(async () => {
  ensureGatewayTools();
  ground.netns = new NetnsGround();
  ground.scope = createProcessScope('anex-gateway-machines-e2e');
  buildNetwork(netns());
  const pki = issueCertificate(scope().dir, [ENDPOINT_IP, GW_PUBLIC]);
  cluster = await startServices(scope(), netns(), 'cluster', 'cluster-services', {
    http: [
      { host: ADDRESSES.web, port: 80, name: 'web' },
      { host: ADDRESSES.other, port: 80, name: 'other' },
      { host: IMDS, port: 80, name: 'imds' },
    ],
    dns: { host: ADDRESSES.dns, records: { 'web.default.svc.cluster.local': ADDRESSES.web } },
  });
  const dir = agentBuildDir();
  const manifest = parseBuildManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'), 'manifest.json');
  const gatewayKey = wgKeyPair();
  const gatewayToken = newSecret();
  const prefix = `p${randomBytes(16).toString('hex')}`;
  // The machines' way in: loopback (forwarded into each machine), as `anex run` local mode serves it.
  const url = `http://127.0.0.1:${await freePort()}`;
  deps = {
    store: new MemoryStore(),
    backend: new MemoryAgentBackend(),
    now: () => Date.now(),
    rateLimiter: tokenBucketLimiter({ capacity: 1000 }),
    logger: { info: () => undefined, warn: () => undefined },
    settings: {
      vpnRange: parseVpnRange(VPN),
      gatewayPublicKey: gatewayKey.publicKey,
      udpEndpoint: `${GW_PUBLIC}:${WIREGUARD_PORT}`,
      wstunnel: { serverUrl: `wss://${GW_PUBLIC}:${WSTUNNEL_PORT}`, pathPrefix: prefix },
      // A host may route anything into the tunnel; only the gateway's rules decide.
      clusterCidrs: ['0.0.0.0/0'],
      dns: [ADDRESSES.dns],
      readyTimeoutSeconds: 90,
      gatewayTokenHash: sha256Hex(gatewayToken),
      binaries: {
        wireproxy: selfBuiltPin(manifest, 'wireproxy', (arch) => `${url}${binaryPath('wireproxy', arch)}`),
        wstunnel: selfBuiltPin(manifest, 'wstunnel', (arch) => `${url}${binaryPath('wstunnel', arch)}`),
      },
      // The machines fetch over http:// from the loopback endpoint, as in `anex run` local mode.
      allowInsecureBinaryUrls: true,
    },
    agentDownload: async (arch) => `${url}${binaryPath('agent', arch)}`,
  };
  ground.http = await serveAgentEndpoint({
    host: '127.0.0.1',
    port: Number(new URL(url).port),
    deps,
    binaries: builtFiles(dir, manifest),
  });
  ground.https = await serveHttps(pki, deps, ENDPOINT_IP);
  const port = (ground.https.address() as { port: number }).port;
  await startGateway(
    scope(),
    netns(),
    { privateKey: gatewayKey.privateKey, token: gatewayToken },
    {
      PATH: process.env.PATH,
      ANEX_AGENT_URL: `https://${ENDPOINT_IP}:${port}`,
      ANEX_VPN_CIDR: VPN,
      ANEX_GATEWAY_ADDRESS: '10.251.0.1',
      ANEX_SYNC_INTERVAL: '2',
      ANEX_SECRETS_DIR: scope().dir,
      ANEX_STATE_DIR: join(scope().dir, 'gateway-state'),
      ANEX_WG_INTERFACE: IFACE,
      ANEX_NODE_CIDRS: `${CLUSTER}.0/24`,
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      CURL_CA_BUNDLE: pki.ca,
    },
  );
  startGatewayWstunnel(scope(), netns(), pki, GW_PUBLIC, prefix);
  const launch = agentLaunch({
    store: deps.store,
    range: deps.settings.vpnRange,
    endpointUrl: url,
    insecure: true,
    now: Date.now,
    agent: builtAgentArtifact(manifest),
  });
  let next = 20;
  const network = {
    bridge: `b${netns().id}`,
    netns: netns().name('in'),
    address: () => `${NET}.${next++}/24`,
  };
  for (const provider of PROVIDERS) {
    const sim = provider === 'vastai' ? new VastAiSim({ seed: 7, offers: 100 }) : new RunPodSim({ seed: 7 });
    ground.sims.push(sim);
    const simUrl = await sim.start();
    const runner = new MachineRunner({ hosts: { [provider]: sim }, network });
    ground.runners.push(runner);
    const adapter = createProvider(provider, { apiKey: 'e2e-key', baseUrl: simUrl, clusterId: 'gw-e2e' });
    const podUid = randomUUID();
    const probe = randomBytes(6).toString('hex');
    (deps.backend as MemoryAgentBackend).addPod({
      podUid,
      transport: GATEWAY_TRANSPORT[provider],
      command: ['/bin/sh', '-c', WORKLOAD],
      args: [],
      env: { [`GW_TUNNEL_${TUNNEL_PORT}`]: 'web.default.svc.cluster.local:80', PROBE: probe },
      restartPolicy: 'Never',
      // Declared, so only the gateway's own protection refuses it (ADR 0020).
      allowEgress: allowEgressDestinations({ 'anex.sh/allow-egress': `${IMDS}/32:80` }, 'default'),
    });
    const instanceId = await rent(adapter, launch, podUid, pki.ca);
    rented.set(provider, { provider, adapter, sim, runner, instanceId, podUid, probe, log: '' });
  }
  for (const machine of rented.values()) machine.log = await probesDone(machine);
}, 420_000);

afterAll(async () => {
  // Whatever a failed test left: every instance destroyed, every machine stopped, then the rest.
  for (const machine of rented.values())
    await machine.adapter.destroy(machine.instanceId, {}).catch(() => 'gone');
  const leaked = ground.sims.flatMap((sim) => sim.liveInstances().map((i) => i.id));
  for (const runner of ground.runners) await runner.stop();
  for (const sim of ground.sims) await sim.stop();
  await ground.http?.close();
  await closeHttps(ground.https);
  await ground.scope?.close();
  ground.netns?.close();
  // A simulator instance still live after the destroys is a leak: the run fails.
  expect(leaked).toEqual([]);
});

function buildNetwork(n: NetnsGround): void {
  n.add('in');
  const bridge = `b${n.id}`;
  n.exec('in', ['ip', 'link', 'add', bridge, 'type', 'bridge']);
  n.exec('in', ['ip', 'link', 'set', bridge, 'up']);
  n.add('gw', {
    etc: {
      'resolv.conf': `nameserver ${ADDRESSES.dns}\nsearch anex-system.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`,
      hosts: '127.0.0.1 localhost\n',
    },
  });
  n.add('cluster');
  n.link('r', { role: 'root', address: `${ENDPOINT_IP}/24` }, { role: 'in', master: bridge });
  n.link('g', { role: 'gw', address: `${GW_PUBLIC}/24` }, { role: 'in', master: bridge });
  n.link('c', { role: 'gw', address: `${CLUSTER}.1/24` }, { role: 'cluster', address: `${NODE_IP}/24` });
  n.exec('gw', ['ip', 'route', 'add', 'default', 'via', NODE_IP]);
  n.exec('gw', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  for (const ip of [...Object.values(ADDRESSES), IMDS])
    n.exec('cluster', ['ip', 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
}

/** Rents one machine with the product's adapter, filter and agent launch; its instance id. */
async function rent(
  adapter: Provider,
  launch: ReturnType<typeof agentLaunch>,
  podUid: string,
  ca: string,
): Promise<string> {
  const requirements = selftestRequirements(adapter.name);
  const deadline = Date.now() + 60_000;
  const offers = await adapter.listOffers(requirements, { deadline });
  const offer = select(requirements, offers, [], Date.now())[0];
  if (offer === undefined) throw new Error(`${adapter.name}: no offer for the selftest's requirements`);
  const tag: InstanceTag = { clusterId: 'gw-e2e', podUid };
  const pod: PodView = {
    namespace: 'default',
    name: `gw-${adapter.name}`,
    uid: podUid,
    annotations: {},
    labels: {},
    nodeSelector: {},
    containers: [{ name: 'main', image: IMAGE, command: ['/bin/sh', '-c', WORKLOAD], env: {} }],
    restartPolicy: 'Never',
    status: undefined,
  };
  const built = await launch({
    pod,
    requirements,
    tag,
    ...(adapter.instanceIdEnv === undefined ? {} : { instanceIdEnv: adapter.instanceIdEnv }),
  });
  const spec = { ...built.spec, env: { ...built.spec.env, SSL_CERT_FILE: ca } };
  const created = await adapter.create(offer, spec, tag, { deadline });
  if (created.outcome !== 'created') throw new Error(`${adapter.name}: create ${created.outcome}`);
  return created.instance.id;
}

/** Syncs the machine's runner until its workload printed all its results; its container log. */
async function probesDone(machine: Omit<Rented, 'log'>): Promise<string> {
  const key = `${machine.provider}/${machine.instanceId}`;
  let log = '';
  await waitUntil(
    async () => {
      await machine.runner.sync();
      log = machine.runner.logOf(key) ?? '';
      return log.includes(`all-${machine.probe}-probed\n`);
    },
    { what: `the ${machine.provider} machine's workload (${key}) printing its results`, timeoutMs: 240_000 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- its container log ---\n${log.slice(-4000)}`);
  });
  return log;
}

/** The `result:<name>=…` line's body and code, e.g. `web 200`. */
function probed(machine: Rented, name: string): string {
  const line = machine.log.split('\n').find((l) => l.startsWith(`result:${name}=`));
  if (line === undefined) throw new Error(`no result of ${name} in the log:\n${machine.log.slice(-4000)}`);
  return line.slice(`result:${name}=`.length).trim();
}

function seen(listener: string, path: string): boolean {
  return readFileSync(cluster.logPath, 'utf8').includes(`hit ${listener} ${path}\n`);
}

/** The gateway itself reaches `url` (not forwarded): a refusal of it below has teeth. */
async function fromGateway(url: string): Promise<string> {
  const { stdout } = await exec('ip', [
    'netns',
    'exec',
    netns().name('gw'),
    'curl',
    '-sS',
    '--max-time',
    '3',
    url,
  ]);
  return stdout;
}

function the(provider: ProviderName): Rented {
  const machine = rented.get(provider);
  if (machine === undefined) throw new Error(`no ${provider} machine`);
  return machine;
}

describe('simulated machines run the real stub → Go agent → tunnel helpers, through the real gateway', () => {
  describe.each(PROVIDERS)('a %s machine', (provider) => {
    it('reaches its GW_TUNNEL destination (a Service by name)', () => {
      const machine = the(provider);
      expect(probed(machine, 'tunnel')).toBe('web 200');
      expect(seen('web', `/probe-${machine.probe}-tunnel`)).toBe(true);
    });

    it('reaches that Service by address through its HTTP proxy too (the refusals below are the gateway’s)', () => {
      const machine = the(provider);
      expect(probed(machine, 'proxied')).toBe('web 200');
      expect(seen('web', `/probe-${machine.probe}-proxied`)).toBe(true);
    });

    it.each([
      { name: 'other', what: 'an undeclared Service', url: `http://${ADDRESSES.other}/`, answer: 'other' },
      { name: 'imds', what: 'the metadata address, even declared', url: `http://${IMDS}/`, answer: 'imds' },
    ])('cannot reach $what through its tunnel', async ({ name, url, answer }) => {
      const machine = the(provider);
      expect(await fromGateway(url)).toBe(answer);
      expect(probed(machine, name)).not.toBe(`${answer} 200`);
      expect(seen(answer, `/probe-${machine.probe}-${name}`)).toBe(false);
    });

    it("cannot reach a cluster address over its host's own network (only the tunnel leads there)", () => {
      const machine = the(provider);
      expect(probed(machine, 'direct')).toBe('000');
      expect(seen('other', `/probe-${machine.probe}-direct`)).toBe(false);
    });

    it(`reached the gateway over ${GATEWAY_TRANSPORT[provider] === 'udp' ? 'WireGuard/UDP from its own address' : 'wstunnel (the peer appears behind the wss server)'}`, async () => {
      const machine = the(provider);
      const allocation = (await deps.store.listAddresses()).find((a) => a.podUid === machine.podUid);
      expect(allocation?.publicKey).toBeDefined();
      const endpoints = netns().exec('gw', ['wg', 'show', IFACE, 'endpoints']);
      const line = endpoints.split('\n').find((l) => l.startsWith(`${allocation?.publicKey}\t`));
      const from = line?.split('\t')[1] ?? '';
      // UDP: the machine's own bridge address; wstunnel: the server's local forward.
      expect(from).toMatch(
        GATEWAY_TRANSPORT[provider] === 'udp'
          ? new RegExp(`^${NET.replaceAll('.', '\\.')}\\.\\d+:\\d+$`)
          : /^127\.0\.0\.1:\d+$/,
      );
      expect(gatewaySyncs(join(scope().dir, 'gateway-state'))).toBeGreaterThanOrEqual(1);
    });
  });

  it('destroying the instances leaves no instance, machine process or machine link behind', async () => {
    for (const machine of rented.values()) {
      expect(await machine.adapter.destroy(machine.instanceId, {})).toBe('destroyed');
      await machine.runner.sync();
      expect(machine.runner.machines().size).toBe(0);
      expect(machine.runner.liveProcesses()).toEqual([]);
      expect(machine.sim.liveInstances()).toEqual([]);
    }
    // The bridge-side ends of the machines' veth pairs (am…o) went with them.
    expect(
      netns()
        .exec('in', ['ip', '-o', 'link', 'show'])
        .match(/\bam[0-9a-f]{8}o\b/g),
    ).toBeNull();
  });
});
