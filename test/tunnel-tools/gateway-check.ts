/**
 * Manual end-to-end check of the cluster gateway script (lib/tunnel/gateway/gateway.sh)
 * against real wireguard-go, `wg syncconf` and iptables, in a throw-away network namespace.
 * Not part of `npm test`: it needs root, /dev/net/tun, `ip netns`, and the Debian packages
 * wireguard-go, wireguard-tools and iptables.
 *
 *   node test/tunnel-tools/gateway-check.ts
 *
 * Topology: netns "anexgw-check" holds the gateway (wg-anex, 10.250.0.1) behind a veth pair
 * (host 172.31.250.1 ⇄ netns 172.31.250.2). On the host side: the agent endpoint, a "cluster"
 * HTTP service, and the agent's wireproxy. Checks, in order: the gateway starts with no peers;
 * a bootstrapped agent is admitted live (no gateway restart) and its proxy reaches the
 * service, which sees the gateway's address (SNAT); releasing the pod's address removes the
 * peer and cuts the traffic; a destination outside ANEX_ALLOWED_CIDRS is refused. Exits 1 with the reason on the first failed check.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryStore } from '../../lib/state/memory-store.ts';
import { parseVpnRange } from '../../lib/tunnel/addresses.ts';
import { handleAgentRequest } from '../../lib/tunnel/endpoint/handler.ts';
import { MemoryAgentBackend } from '../../lib/tunnel/endpoint/memory-backend.ts';
import { tokenBucketLimiter } from '../../lib/tunnel/endpoint/rate-limit.ts';
import { serveAgentEndpoint } from '../../lib/tunnel/endpoint/server.ts';
import type { AgentEndpointDeps } from '../../lib/tunnel/endpoint/types.ts';
import { wgKeyPair } from '../../lib/tunnel/keys.ts';
import { issueBootstrapToken, newSecret, sha256Hex } from '../../lib/tunnel/tokens.ts';
import { PRIVATE_KEY_PLACEHOLDER } from '../../lib/tunnel/wireproxy-config.ts';
import { httpGet } from '../support/cluster-service.ts';
import { aLaunch, aPin } from '../support/tunnel.ts';

const NS = 'anexgw-check';
const HOST_IP = '172.31.250.1';
const GW_IP = '172.31.250.2';
/** a second host address, outside the gateway's allow-list */
const OTHER_IP = '172.31.250.3';
const IFACE = 'wg-anex';
const SCRIPT = fileURLToPath(new URL('../../lib/tunnel/gateway/gateway.sh', import.meta.url));
const BUILD = fileURLToPath(new URL('./build.sh', import.meta.url));
const t0 = Date.now();
const children: ChildProcess[] = [];

function log(message: string): void {
  process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}\n`);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
  log(`ok: ${what}`);
}

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8' });
}

function inNs(args: string[]): string {
  return run('ip', ['netns', 'exec', NS, ...args]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await probe()) return Date.now() - start;
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function setUpNetwork(): void {
  for (const tool of ['wireguard-go', 'wg', 'iptables', 'ip']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(
        `${tool} is not installed (apt-get install wireguard-go wireguard-tools iptables iproute2)`,
      );
    }
  }
  run('ip', ['netns', 'add', NS]);
  run('ip', ['link', 'add', 'veth-anexchk', 'type', 'veth', 'peer', 'name', 'veth-anexgw']);
  run('ip', ['link', 'set', 'veth-anexgw', 'netns', NS]);
  run('ip', ['addr', 'add', `${HOST_IP}/29`, 'dev', 'veth-anexchk']);
  run('ip', ['addr', 'add', `${OTHER_IP}/29`, 'dev', 'veth-anexchk']);
  run('ip', ['link', 'set', 'veth-anexchk', 'up']);
  inNs(['ip', 'addr', 'add', `${GW_IP}/29`, 'dev', 'veth-anexgw']);
  inNs(['ip', 'link', 'set', 'veth-anexgw', 'up']);
  inNs(['ip', 'link', 'set', 'lo', 'up']);
  inNs(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
}

function tearDown(dir: string): void {
  for (const child of children) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  try {
    execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  } catch {
    // not created
  }
  try {
    execFileSync('ip', ['link', 'del', 'veth-anexchk'], { stdio: 'ignore' });
  } catch {
    // gone with the namespace
  }
  rmSync(dir, { recursive: true, force: true });
}

function endpointDeps(gatewayPublicKey: string, gatewayToken: string): AgentEndpointDeps {
  return {
    store: new MemoryStore(),
    backend: new MemoryAgentBackend(),
    now: () => Date.now(),
    rateLimiter: tokenBucketLimiter({ capacity: 100 }),
    logger: { info: () => undefined, warn: (message) => log(`endpoint warning: ${message}`) },
    settings: {
      vpnRange: parseVpnRange('10.250.0.0/24'),
      gatewayPublicKey,
      udpEndpoint: `${GW_IP}:51820`,
      clusterCidrs: ['172.31.250.0/29'],
      healthPort: 49180,
      gatewayTokenHash: sha256Hex(gatewayToken),
      binaries: { wireproxy: aPin('wireproxy'), wstunnel: aPin('wstunnel') },
    },
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'anex-gateway-check-'));
  try {
    setUpNetwork();
    await scenario(dir);
    log('all checks passed');
  } finally {
    tearDown(dir);
  }
}

async function scenario(dir: string): Promise<void> {
  const wireproxy = run('sh', [BUILD]).trim().split('\n').at(-1) ?? '';
  let source = '';
  const service = createServer((req, res) => {
    source = req.socket.remoteAddress ?? '';
    res.writeHead(200, { 'content-length': 5 }).end('hello');
  });
  await new Promise<void>((resolve) => service.listen(18080, HOST_IP, () => resolve()));
  const other = createServer((_req, res) => res.writeHead(200, { 'content-length': 5 }).end('other'));
  await new Promise<void>((resolve) => other.listen(18080, OTHER_IP, () => resolve()));
  const gateway = wgKeyPair();
  const gatewayToken = newSecret();
  const deps = endpointDeps(gateway.publicKey, gatewayToken);
  const endpoint = await serveAgentEndpoint({ host: HOST_IP, port: 0, deps });
  try {
    mkdirSync(join(dir, 'secrets'));
    writeFileSync(join(dir, 'secrets', 'wg-private-key'), `${gateway.privateKey}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'secrets', 'peers-token'), gatewayToken, { mode: 0o600 });
    startGateway(dir, endpoint.url);
    await until('the gateway interface', () => listPeers() !== undefined);
    check(listPeers() === '', 'the gateway starts with no peers');
    await admitAndCut({ deps, dir, wireproxy, source: () => source });
  } finally {
    await endpoint.close();
    service.close();
    other.close();
  }
}

function listPeers(): string | undefined {
  try {
    // stderr ignored: before the interface exists `wg` says so on every poll
    return execFileSync('ip', ['netns', 'exec', NS, 'wg', 'show', IFACE, 'peers'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function startGateway(dir: string, url: string): void {
  const env = [
    `ANEX_AGENT_URL=${url}`,
    'ANEX_VPN_CIDR=10.250.0.0/24',
    'ANEX_GATEWAY_ADDRESS=10.250.0.1',
    'ANEX_SYNC_INTERVAL=2',
    `ANEX_SECRETS_DIR=${join(dir, 'secrets')}`,
    `ANEX_STATE_DIR=${join(dir, 'state')}`,
    `ANEX_WG_INTERFACE=${IFACE}`,
    `ANEX_ALLOWED_CIDRS=${HOST_IP}/32`,
  ];
  const child = spawn('ip', ['netns', 'exec', NS, 'env', ...env, 'sh', SCRIPT], {
    stdio: 'inherit',
    detached: true,
  });
  children.push(child);
}

async function admitAndCut(o: {
  deps: AgentEndpointDeps;
  dir: string;
  wireproxy: string;
  source: () => string;
}) {
  const backend = o.deps.backend as MemoryAgentBackend;
  const pod = aLaunch();
  backend.addPod(pod);
  const { token } = await issueBootstrapToken(o.deps.store, { podUid: pod.podUid, now: Date.now() });
  const agentKey = wgKeyPair();
  const body = JSON.stringify({ token, podUid: pod.podUid, publicKey: agentKey.publicKey });
  const answer = await handleAgentRequest(
    { method: 'POST', path: '/v1/bootstrap', headers: {}, body },
    o.deps,
  );
  check(answer.status === 200, 'the agent bootstraps');
  const config = (JSON.parse(answer.body) as { wireproxy: { config: string } }).wireproxy.config;
  writeFileSync(join(o.dir, 'agent.conf'), config.replace(PRIVATE_KEY_PLACEHOLDER, agentKey.privateKey), {
    mode: 0o600,
  });
  children.push(
    spawn(o.wireproxy, ['-s', '-c', join(o.dir, 'agent.conf'), '-i', '127.0.0.1:49180'], {
      stdio: 'ignore',
      detached: true,
    }),
  );
  const admitted = await until('the agent tunnel ready', async () => {
    const r = await httpGet('http://127.0.0.1:49180/readyz', { timeoutMs: 2_000 }).catch(() => undefined);
    return r?.status === 200;
  });
  log(`agent admitted live, tunnel ready ${(admitted / 1000).toFixed(1)} s after bootstrap`);
  const reply = await httpGet(`http://${HOST_IP}:18080/`, { proxyPort: 3128 });
  check(reply.body === 'hello', 'the agent reaches the cluster service through the gateway');
  check(
    o.source() === GW_IP,
    `the service sees the gateway's address (SNAT), not the VPN address (saw ${o.source()})`,
  );
  const outside = await httpGet(`http://${OTHER_IP}:18080/`, { proxyPort: 3128, timeoutMs: 4_000 }).then(
    () => 'reached',
    () => 'blocked',
  );
  check(outside === 'blocked', 'a destination outside ANEX_ALLOWED_CIDRS is refused');
  const allocation = (await o.deps.store.listAddresses())[0];
  if (!allocation) throw new Error('no allocation');
  await o.deps.store.releaseAddress(allocation.address, pod.podUid);
  const removed = await until('the peer removal', () => listPeers() === '');
  log(`peer removed ${(removed / 1000).toFixed(1)} s after the pod's address was released`);
  const after = await httpGet(`http://${HOST_IP}:18080/`, { proxyPort: 3128, timeoutMs: 4_000 }).then(
    () => 'reached',
    () => 'blocked',
  );
  check(after === 'blocked', 'traffic from the removed peer no longer passes');
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway check failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
