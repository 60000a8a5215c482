import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowEgressDestinations } from '../../../lib/annotations/allow-egress.ts';
import {
  createProcessScope,
  type ManagedProcess,
  type ProcessScope,
  waitUntil,
} from '../../../lib/local/control-plane/processes.ts';
import { MemoryStore } from '../../../lib/state/memory-store.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { handleAgentRequest } from '../../../lib/tunnel/endpoint/handler.ts';
import { MemoryAgentBackend } from '../../../lib/tunnel/endpoint/memory-backend.ts';
import { tokenBucketLimiter } from '../../../lib/tunnel/endpoint/rate-limit.ts';
import type { AgentEndpointDeps, AgentLaunch } from '../../../lib/tunnel/endpoint/types.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { issueBootstrapToken, newSecret, sha256Hex } from '../../../lib/tunnel/tokens.ts';
import { PRIVATE_KEY_PLACEHOLDER } from '../../../lib/tunnel/wireproxy-config.ts';
import { wireproxyBinary, wstunnelBinary } from '../../support/agent-build.ts';
import { ensureGatewayTools, NetnsGround } from '../../support/netns.ts';
import { aLaunch, aPin } from '../../support/tunnel.ts';
import {
  closeHttps,
  gatewaySyncs,
  issueCertificate,
  GATEWAY_SCRIPT as SCRIPT,
  serveHttps,
  startGateway,
  startGatewayWstunnel,
  startServices as startServicesIn,
  WIREGUARD_PORT,
  WSTUNNEL_PORT,
  wireguardInterfaceName,
} from './gateway-ground.ts';

/**
 * The real cluster gateway (lib/tunnel/gateway/gateway.sh: wireguard-go, wg, iptables) in its
 * own network namespace, fail-closed per peer (ADR 0020). Topology, one /24 each:
 *
 *   root (this process: the agent endpoint, https) ─┐
 *   agent "udp" ns (wireproxy) ───────────────────── "internet" bridge ── gateway ns ── cluster ns
 *   agent "wss" ns (wstunnel client + wireproxy) ───┘   (172.31.N.0/24)     (192.168.N.0/24)
 *
 * The cluster ns holds the Services (ClusterIPs on a dummy interface), a fake API server, the
 * node address (its own veth address), the three cloud metadata addresses and a cluster DNS
 * server; the gateway ns resolves names through that DNS with a pod's search list. The
 * agents run the real wireproxy with the config their bootstrap returned, over WireGuard/UDP
 * and over wstunnel; their hosts route everything into the tunnel (AllowedIPs 0.0.0.0/0), as
 * a hostile host may, so only the gateway decides. Every "cannot" case declares what it
 * tries where the pod can (so only the gateway's protection refuses it) and shows the target
 * answers the gateway itself.
 */

const exec = promisify(execFile);
const ID = Number(process.pid % 100) + 100;
const NET = `172.31.${ID}`;
const CLUSTER = `192.168.${ID}`;
const ENDPOINT_IP = `${NET}.1`;
const GW_PUBLIC = `${NET}.2`;
const NODE_IP = `${CLUSTER}.2`;
const VPN = '10.250.0.0/24';
const GW_VPN = '10.250.0.1';
const SYNC_SECONDS = 2;
const TUNNEL_PORT = 15000;
const IFACE = wireguardInterfaceName();

/** The cluster DNS's names; a test moves one, as recreating a Service does. */
const RECORDS: Record<string, string> = {
  'web.default.svc.cluster.local': '10.96.0.20',
  'store.default.svc.cluster.local': '10.96.0.21',
  'other.default.svc.cluster.local': '10.96.0.30',
};

function writeRecords(records: Record<string, string>): string {
  const path = join(scope().dir, 'dns-records.json');
  writeFileSync(`${path}.new`, JSON.stringify(records));
  renameSync(`${path}.new`, path);
  return path;
}

const ADDRESSES = {
  web: '10.96.0.20',
  store: '10.96.0.21',
  storeMoved: '10.96.0.22',
  other: '10.96.0.30',
  dns: '10.96.0.10',
  api: '10.96.0.1',
} as const;

/** What each agent tries: a URL, the listener that would answer, and whether it may. */
interface Target {
  name: string;
  url: string;
  answer: string;
}

const T = {
  web: { name: 'its GW_TUNNEL destination (a Service by name)', url: '', answer: 'web' },
  store: {
    name: 'an allowed Service by name through the HTTP proxy',
    url: 'http://store.default.svc.cluster.local/',
    answer: 'store',
  },
  other: { name: 'an undeclared Service', url: `http://${ADDRESSES.other}/`, answer: 'other' },
  webPort: {
    name: 'an undeclared port of a declared Service',
    url: `http://${ADDRESSES.web}:8080/`,
    answer: 'web-8080',
  },
  api: { name: 'the API server address', url: `http://${ADDRESSES.api}:443/`, answer: 'api' },
  node: { name: 'a node address', url: `http://${NODE_IP}:10250/`, answer: 'node' },
  imds: {
    name: 'the link-local metadata address 169.254.169.254',
    url: 'http://169.254.169.254/',
    answer: 'imds',
  },
  alibaba: {
    name: 'the metadata address 100.100.100.200',
    url: 'http://100.100.100.200/',
    answer: 'alibaba',
  },
  azure: { name: 'the metadata address 168.63.129.16', url: 'http://168.63.129.16/', answer: 'wireserver' },
} satisfies Record<string, Target>;

/** Declared by both pods: everything the gateway must refuse anyway is declared too. */
const DECLARED = [
  'store:80',
  `${ADDRESSES.api}/32:443`,
  `${CLUSTER}.0/24:10250`,
  '169.254.169.254/32:80',
  '100.100.100.200/32:80',
  '168.63.129.16/32:80',
  `${VPN}:80`,
].join(', ');

interface Agent {
  role: 'udp' | 'wss';
  pod: AgentLaunch;
  address: string;
  publicKey: string;
}

const ground = { netns: undefined as NetnsGround | undefined, scope: undefined as ProcessScope | undefined };
let deps: AgentEndpointDeps;
let endpoint: Server | undefined;
let cluster: ManagedProcess;
let peerService: ManagedProcess;
let gateway: ManagedProcess;
const agents: Record<'udp' | 'wss', Agent> = {} as Record<'udp' | 'wss', Agent>;

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
  ground.scope = createProcessScope('anex-gateway-e2e');
  buildNetwork(netns());
  const pki = issueCertificate(scope().dir, [ENDPOINT_IP, GW_PUBLIC]);
  cluster = await startServices('cluster', 'cluster-services', {
    http: [
      { host: ADDRESSES.web, port: 80, name: 'web' },
      { host: ADDRESSES.web, port: 8080, name: 'web-8080' },
      { host: ADDRESSES.store, port: 80, name: 'store' },
      { host: ADDRESSES.storeMoved, port: 80, name: 'store-moved' },
      { host: ADDRESSES.other, port: 80, name: 'other' },
      { host: ADDRESSES.api, port: 443, name: 'api' },
      { host: NODE_IP, port: 10250, name: 'node' },
      { host: '169.254.169.254', port: 80, name: 'imds' },
      { host: '100.100.100.200', port: 80, name: 'alibaba' },
      { host: '168.63.129.16', port: 80, name: 'wireserver' },
    ],
    dns: { host: ADDRESSES.dns, records: {}, recordsFile: writeRecords(RECORDS) },
  });
  peerService = await startServices('wss', 'peer-service', {
    http: [{ host: '127.0.0.1', port: 18080, name: 'peer' }],
  });
  const gatewayKey = wgKeyPair();
  const gatewayToken = newSecret();
  const prefix = `p${randomBytes(16).toString('hex')}`;
  deps = endpointDeps(gatewayKey.publicKey, gatewayToken, prefix);
  endpoint = await serveHttps(pki, deps, ENDPOINT_IP);
  const port = (endpoint.address() as { port: number }).port;
  gateway = await startGateway(
    scope(),
    netns(),
    { privateKey: gatewayKey.privateKey, token: gatewayToken },
    gatewayEnvFor(`https://${ENDPOINT_IP}:${port}`, pki.ca),
  );
  startGatewayWstunnel(scope(), netns(), pki, GW_PUBLIC, prefix);
  agents.udp = await startAgent('udp', `${DECLARED}`, pki.ca);
  agents.wss = await startAgent('wss', `${DECLARED}, ${ADDRESSES.other}/32:80`, pki.ca);
}, 300_000);

afterAll(async () => {
  await closeHttps(endpoint);
  await ground.scope?.close();
  ground.netns?.close();
});

function buildNetwork(n: NetnsGround): void {
  n.add('in');
  n.exec('in', ['ip', 'link', 'add', `b${n.id}`, 'type', 'bridge']);
  n.exec('in', ['ip', 'link', 'set', `b${n.id}`, 'up']);
  // A pod's resolver: the cluster DNS with the usual search list.
  n.add('gw', {
    etc: {
      'resolv.conf': `nameserver ${ADDRESSES.dns}\nsearch anex-system.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`,
      hosts: '127.0.0.1 localhost\n',
    },
  });
  n.add('cluster');
  n.add('udp');
  n.add('wss');
  const bridge = `b${n.id}`;
  n.link('r', { role: 'root', address: `${ENDPOINT_IP}/24` }, { role: 'in', master: bridge });
  n.link('g', { role: 'gw', address: `${GW_PUBLIC}/24` }, { role: 'in', master: bridge });
  n.link('u', { role: 'udp', address: `${NET}.11/24` }, { role: 'in', master: bridge });
  n.link('w', { role: 'wss', address: `${NET}.12/24` }, { role: 'in', master: bridge });
  n.link('c', { role: 'gw', address: `${CLUSTER}.1/24` }, { role: 'cluster', address: `${NODE_IP}/24` });
  // The gateway pod's default route leads into the cluster; the agents are on the internet link.
  n.exec('gw', ['ip', 'route', 'add', 'default', 'via', NODE_IP]);
  n.exec('gw', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  // The Service, API server and metadata addresses are local to the cluster ns (on its lo).
  for (const ip of [...Object.values(ADDRESSES), '169.254.169.254', '100.100.100.200', '168.63.129.16'])
    n.exec('cluster', ['ip', 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
}

function startServices(role: string, name: string, spec: unknown): Promise<ManagedProcess> {
  return startServicesIn(scope(), netns(), role, name, spec);
}

function endpointDeps(gatewayPublicKey: string, gatewayToken: string, prefix: string): AgentEndpointDeps {
  return {
    store: new MemoryStore(),
    backend: new MemoryAgentBackend(),
    now: () => Date.now(),
    rateLimiter: tokenBucketLimiter({ capacity: 1000 }),
    logger: { info: () => undefined, warn: () => undefined },
    settings: {
      vpnRange: parseVpnRange(VPN),
      gatewayPublicKey,
      udpEndpoint: `${GW_PUBLIC}:${WIREGUARD_PORT}`,
      wstunnel: { serverUrl: `wss://${GW_PUBLIC}:${WSTUNNEL_PORT}`, pathPrefix: prefix },
      // A host may route anything into the tunnel; only the gateway's rules decide.
      clusterCidrs: ['0.0.0.0/0'],
      dns: [ADDRESSES.dns],
      gatewayTokenHash: sha256Hex(gatewayToken),
      binaries: { wireproxy: aPin('wireproxy'), wstunnel: aPin('wstunnel') },
    },
  };
}

/** The gateway's environment, for the running loop and for single syncs. */
let gatewayEnv: Record<string, string | undefined> = {};
/** A directory whose `iptables-restore` always fails. */
let FAILING_BIN = '';

function gatewayEnvFor(url: string, ca: string): Record<string, string | undefined> {
  FAILING_BIN = join(scope().dir, 'failing-bin');
  mkdirSync(FAILING_BIN);
  writeFileSync(join(FAILING_BIN, 'iptables-restore'), '#!/bin/sh\necho "simulated failure" >&2\nexit 1\n', {
    mode: 0o755,
  });
  const env = {
    PATH: process.env.PATH,
    ANEX_AGENT_URL: url,
    ANEX_VPN_CIDR: VPN,
    ANEX_GATEWAY_ADDRESS: GW_VPN,
    ANEX_SYNC_INTERVAL: String(SYNC_SECONDS),
    ANEX_SECRETS_DIR: scope().dir,
    ANEX_STATE_DIR: join(scope().dir, 'gateway-state'),
    ANEX_WG_INTERFACE: IFACE,
    ANEX_NODE_CIDRS: `${CLUSTER}.0/24`,
    // What a pod's environment says of the `kubernetes` Service.
    KUBERNETES_SERVICE_HOST: ADDRESSES.api,
    // The test CA: curl's own variable, no gateway option.
    CURL_CA_BUNDLE: ca,
  };
  gatewayEnv = env;
  return env;
}

function syncs(): number {
  return gatewaySyncs(join(scope().dir, 'gateway-state'));
}

async function startAgent(role: 'udp' | 'wss', allowEgress: string, ca: string): Promise<Agent> {
  const backend = deps.backend as MemoryAgentBackend;
  const pod = aLaunch({
    transport: role === 'udp' ? 'udp' : 'wstunnel',
    env: { [`GW_TUNNEL_${TUNNEL_PORT}`]: 'web.default.svc.cluster.local:80' },
    // as ReconcilerAgentBackend reads it from the pod's annotation (namespace "default")
    allowEgress: allowEgressDestinations({ 'anex.sh/allow-egress': allowEgress }, 'default'),
  });
  backend.addPod(pod);
  const { token } = await issueBootstrapToken(deps.store, { podUid: pod.podUid, now: Date.now() });
  const key = wgKeyPair();
  const answer = await handleAgentRequest(
    {
      method: 'POST',
      path: '/v1/bootstrap',
      headers: {},
      body: JSON.stringify({ token, podUid: pod.podUid, publicKey: key.publicKey }),
    },
    deps,
  );
  expect(answer.status, answer.body).toBe(200);
  const config = JSON.parse(answer.body) as {
    address: string;
    healthPort: number;
    wireproxy: { config: string };
    wstunnel?: { args: string[]; env: Record<string, string> };
  };
  let text = config.wireproxy.config.replace(PRIVATE_KEY_PLACEHOLDER, key.privateKey);
  if (role === 'wss') {
    // Something of this peer's own on its tunnel address, for the "another peer" case.
    text += '\n[TCPServerTunnel]\nListenPort = 80\nTarget = 127.0.0.1:18080\n';
    if (config.wstunnel === undefined) throw new Error('a wstunnel pod got no wstunnel client');
    scope().spawn({
      name: 'wss-wstunnel',
      ...netns().argv('wss', [wstunnelBinary(), ...config.wstunnel.args]),
      env: { PATH: process.env.PATH, SSL_CERT_FILE: ca, ...config.wstunnel.env },
    });
  }
  const path = join(scope().dir, `${role}.conf`);
  writeFileSync(path, text, { mode: 0o600 });
  const proxy = scope().spawn({
    name: `${role}-wireproxy`,
    ...netns().argv(role, [wireproxyBinary(), '-c', path, '-i', `127.0.0.1:${config.healthPort}`]),
  });
  await waitUntil(
    async () => (await curl(role, `http://127.0.0.1:${config.healthPort}/readyz`)).status === 200,
    {
      what: `the ${role} agent's tunnel (readyz)`,
      timeoutMs: 60_000,
      process: proxy,
    },
  );
  return { role, pod, address: config.address, publicKey: key.publicKey };
}

/** An HTTP GET from inside an agent's namespace, straight or through its HTTP proxy. */
async function curl(role: string, url: string, proxy = false): Promise<{ status: number; body: string }> {
  const args = [
    '-sS',
    '--max-time',
    '3',
    '-o',
    '-',
    '-w',
    '\n%{http_code}',
    ...(proxy ? ['-x', 'http://127.0.0.1:3128'] : []),
    url,
  ];
  try {
    const { stdout } = await exec('ip', ['netns', 'exec', netns().name(role), 'curl', ...args]);
    const split = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(split + 1)), body: stdout.slice(0, split) };
  } catch {
    return { status: 0, body: '' };
  }
}

/** Tries `target` from `agent` with a unique path; whether it answered and the service saw it. */
async function attempt(role: 'udp' | 'wss', target: Target): Promise<{ answered: boolean; seen: boolean }> {
  const path = `/probe-${randomBytes(6).toString('hex')}`;
  const reply =
    target.url === ''
      ? await curl(role, `http://127.0.0.1:${TUNNEL_PORT}${path}`)
      : await curl(role, `${target.url.replace(/\/$/, '')}${path}`, true);
  return {
    answered: reply.status === 200 && reply.body === target.answer,
    seen: seenBy(target.answer, path),
  };
}

function seenBy(listener: string, path: string): boolean {
  return readFileSync(cluster.logPath, 'utf8').includes(`hit ${listener} ${path}\n`);
}

/** The gateway itself reaches `target` (OUTPUT, not forwarded): the refusal below has teeth. */
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

describe('the gateway, fail-closed per peer (real gateway.sh, wireguard-go and iptables in namespaces)', () => {
  describe.each(['udp', 'wss'] as const)('an agent over %s', (role) => {
    it.each([T.web, T.store])('reaches $name', async (target) => {
      expect(await attempt(role, target)).toEqual({ answered: true, seen: true });
    });

    it.each([T.webPort, T.api, T.node, T.imds, T.alibaba, T.azure])('cannot reach $name', async (target) => {
      expect(await fromGateway(target.url)).toBe(target.answer);
      expect(await attempt(role, target)).toEqual({ answered: false, seen: false });
    });
  });

  it('an agent cannot reach an undeclared Service, which another peer that declared it reaches', async () => {
    expect(await attempt('udp', T.other)).toEqual({ answered: false, seen: false });
    expect(await attempt('wss', T.other)).toEqual({ answered: true, seen: true });
  });

  it('an agent cannot reach another peer, even one inside a range it declared', async () => {
    const url = `http://${agents.wss.address}/`;
    expect(await fromGateway(url)).toBe('peer');
    const path = `/probe-${randomBytes(6).toString('hex')}`;
    const reply = await curl('udp', `${url.replace(/\/$/, '')}${path}`, true);
    expect(reply.status).toBe(0);
    expect(readFileSync(peerService.logPath, 'utf8')).not.toContain(path);
  });

  it('renders one chain of per-peer rules by source address, ending in a refusal', () => {
    const rules = netns().exec('gw', ['iptables', '-S', 'ANEX-PEERS']);
    expect(rules).toContain(
      `-A ANEX-PEERS -s ${agents.udp.address}/32 -d ${ADDRESSES.web}/32 -p tcp -m tcp --dport 80 -j ACCEPT`,
    );
    expect(rules).toContain(
      `-A ANEX-PEERS -s ${agents.udp.address}/32 -d ${ADDRESSES.dns}/32 -p udp -m udp --dport 53 -j ACCEPT`,
    );
    expect(rules).not.toContain(`-s ${agents.udp.address}/32 -d ${ADDRESSES.other}/32`);
    expect(rules).toContain(
      `-A ANEX-PEERS -s ${agents.wss.address}/32 -d ${ADDRESSES.other}/32 -p tcp -m tcp --dport 80 -j ACCEPT`,
    );
    expect(rules.trim().split('\n').at(-1)).toBe(
      '-A ANEX-PEERS -j REJECT --reject-with icmp-admin-prohibited',
    );
    expect(netns().exec('gw', ['iptables', '-S', 'FORWARD']).split('\n')[0]).toBe('-P FORWARD DROP');
  });

  it.each([
    ['wg syncconf', () => ({ ANEX_WG: '/bin/false' })],
    ['the per-peer rules', () => ({ PATH: `${FAILING_BIN}:${process.env.PATH}` })],
  ])('a sync whose %s fails is logged, not recorded as applied, and retried', async (_what, failing) => {
    // A second state directory: the same peer list as the running loop, applied from scratch.
    const state = join(scope().dir, `retry-${randomBytes(4).toString('hex')}`);
    const once = (env: Record<string, string | undefined>) =>
      exec('ip', ['netns', 'exec', netns().name('gw'), 'sh', SCRIPT], {
        env: { ...gatewayEnv, ANEX_STATE_DIR: state, ANEX_GATEWAY_STEP: 'sync-once', ...env },
      }).then(
        ({ stderr }) => ({ code: 0, stderr }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
    const failed = await once(failing());
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/(wg syncconf failed|per-peer rules not applied), retrying next sync/);
    expect(existsSync(join(state, 'wg.conf'))).toBe(false);
    expect(existsSync(join(state, 'rules'))).toBe(false);
    expect(await once({})).toEqual({ code: 0, stderr: expect.stringContaining('applied generation 1') });
    expect(readFileSync(join(state, 'rules'), 'utf8')).toContain(`-s ${agents.udp.address}/32`);
  });

  it('an operator opt-in (metadata here) lets a peer reach what it declared there, and only that range', async () => {
    const setup = (env: Record<string, string>) =>
      exec('ip', ['netns', 'exec', netns().name('gw'), 'sh', SCRIPT], {
        env: { ...gatewayEnv, ANEX_GATEWAY_STEP: 'setup', ...env },
      });
    const nextSync = async () => {
      const after = syncs() + 2;
      await waitUntil(async () => syncs() >= after, {
        what: 'a full sync',
        timeoutMs: 30_000,
        process: gateway,
      });
    };
    try {
      await setup({ ANEX_ALLOW_METADATA: 'true' });
      await nextSync();
      expect(await attempt('udp', T.imds)).toEqual({ answered: true, seen: true });
      expect(await attempt('udp', T.api)).toEqual({ answered: false, seen: false });
    } finally {
      await setup({});
      await nextSync();
    }
    expect(await attempt('udp', T.imds)).toEqual({ answered: false, seen: false });
  });

  it('a ceiling (--allowed-cidrs) refuses a declared Service outside it; DNS and what is inside still pass', async () => {
    const setup = (env: Record<string, string>) =>
      exec('ip', ['netns', 'exec', netns().name('gw'), 'sh', SCRIPT], {
        env: { ...gatewayEnv, ANEX_GATEWAY_STEP: 'setup', ...env },
      });
    const nextSync = async () => {
      const after = syncs() + 2;
      await waitUntil(async () => syncs() >= after, {
        what: 'a full sync',
        timeoutMs: 30_000,
        process: gateway,
      });
    };
    try {
      await setup({ ANEX_ALLOWED_CIDRS: `${ADDRESSES.web}/32` });
      await nextSync();
      // by name through the proxy: the name still resolves (DNS passes), the Service is refused
      expect(await attempt('wss', T.store)).toEqual({ answered: false, seen: false });
      expect(await attempt('wss', T.web)).toEqual({ answered: true, seen: true });
    } finally {
      await setup({});
      await nextSync();
    }
    expect(await attempt('wss', T.store)).toEqual({ answered: true, seen: true });
  });

  it('follows a Service recreated with a new ClusterIP within one sync, and refuses its old address', async () => {
    const moved = { name: 'store, moved', url: T.store.url, answer: 'store-moved' };
    const oldAddress = { name: 'store, old address', url: `http://${ADDRESSES.store}/`, answer: 'store' };
    const fullSync = async () => {
      const after = syncs() + 2;
      await waitUntil(async () => syncs() >= after, {
        what: 'a full sync',
        timeoutMs: 30_000,
        process: gateway,
      });
    };
    try {
      writeRecords({ ...RECORDS, 'store.default.svc.cluster.local': ADDRESSES.storeMoved });
      await fullSync();
      expect(await attempt('wss', moved)).toEqual({ answered: true, seen: true });
      expect(await attempt('wss', oldAddress)).toEqual({ answered: false, seen: false });
    } finally {
      writeRecords(RECORDS);
      await fullSync();
    }
    expect(await attempt('wss', T.store)).toEqual({ answered: true, seen: true });
  });

  it("after the pod's attempt ends, the old key gets no packet through within one sync interval", async () => {
    const udp = agents.udp;
    expect(await attempt('udp', T.web)).toEqual({ answered: true, seen: true });
    const ended = await deps.store.listAddresses();
    const allocation = ended.find((a) => a.podUid === udp.pod.podUid);
    if (allocation === undefined) throw new Error('the udp agent has no allocation');
    // What every plan step that ends an attempt does (revokePeer, ADR 0021): the key goes.
    await deps.store.clearPeerKey(allocation.address, udp.pod.podUid);
    // One whole sync starts after the release: the one in flight may have fetched before it.
    const after = syncs() + 2;
    await waitUntil(async () => syncs() >= after, {
      what: 'one full sync interval',
      timeoutMs: 30_000,
      process: gateway,
    });
    expect(netns().exec('gw', ['wg', 'show', IFACE, 'peers'])).not.toContain(udp.publicKey);
    expect(netns().exec('gw', ['iptables', '-S', 'ANEX-PEERS'])).not.toContain(`-s ${udp.address}/32`);
    expect(await attempt('udp', T.web)).toEqual({ answered: false, seen: false });
    expect(await attempt('udp', T.store)).toEqual({ answered: false, seen: false });
    // the other peer is untouched
    expect(await attempt('wss', T.web)).toEqual({ answered: true, seen: true });
  });
});
