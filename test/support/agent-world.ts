import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { freePorts } from '../../lib/local/control-plane/ports.ts';
import { createProcessScope, type ProcessScope } from '../../lib/local/control-plane/processes.ts';
import { parseVpnRange } from '../../lib/tunnel/addresses.ts';
import { binaryPath } from '../../lib/tunnel/endpoint/binaries.ts';
import { serveAgentEndpoint } from '../../lib/tunnel/endpoint/server.ts';
import { desiredPeers } from '../../lib/tunnel/gateway/peers.ts';
import { renderGatewayWireproxyConfig } from '../../lib/tunnel/gateway/render.ts';
import { wgKeyPair } from '../../lib/tunnel/keys.ts';
import type { BinaryAsset } from '../../lib/tunnel/pins.ts';
import { type BuildManifest, builtFiles, parseBuildManifest } from '../../lib/tunnel/self-built.ts';
import { issueBootstrapToken } from '../../lib/tunnel/tokens.ts';
import { agentBuildDir, wireproxyBinary } from './agent-build.ts';
import { startHttpService } from './cluster-service.ts';
import { aLaunch, aPin, type EndpointHarness, endpointHarness, tunnelSettings } from './tunnel.ts';
import { startWstunnelServer, type WstunnelServer } from './wstunnel.ts';

/**
 * A world for the agent on this host: the real agent endpoint over an
 * in-memory backend, pinned wireproxy/wstunnel "release assets", a gateway wireproxy that
 * admits the agent's key once it is in state, and an HTTP service "in the cluster" behind it.
 * Register {@link runCleanups} in afterEach.
 */

/** The self-built binaries' manifest (agentBuildDir). */
export function builtManifest(): BuildManifest {
  const where = join(agentBuildDir(), 'manifest.json');
  return parseBuildManifest(readFileSync(where, 'utf8'), where);
}

export const SERVICE_TEXT = 'hello from the cluster side';
/** What the current test started; {@link runCleanups} (afterEach) ends it, newest first. */
export const cleanups: (() => Promise<void> | void)[] = [];

export async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

export interface World {
  h: EndpointHarness;
  url: string;
  scope: ProcessScope;
  tunnelPort: number;
  /** takes the control plane away (the endpoint stops answering) */
  stopEndpoint: () => Promise<void>;
  /** the gateway's wstunnel server, when the world was made with `wstunnel: true` */
  server: WstunnelServer | undefined;
}

export const WSTUNNEL_PREFIX = 'wstunnel-prefix-secret-0123456789';
/**
 * The wstunnel "release asset" the agent downloads on the RunPod path: records how the agent
 * started it (argv, and whether the secret prefix arrived by env), then execs the real anex
 * wstunnel client, which carries WireGuard to the test's wstunnel server.
 */
const WSTUNNEL_RECORDER = `#!/bin/sh
{ printf 'arg %s\\n' "$@"; [ -n "$WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX" ] && printf 'prefix-env %s\\n' "$WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX"; } > "$WSTUNNEL_RECORD"
exec "$WSTUNNEL_REAL" "$@"
`;

/** Serves files from memory on 127.0.0.1 (the "release assets"). */
async function serveFiles(files: Record<string, string>): Promise<number> {
  const server = createServer((req, res) => {
    const path = files[req.url ?? ''];
    if (!path) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(path));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export async function world(options: {
  format: BinaryAsset['format'];
  corruptChecksum?: boolean;
  aliveIntervalSeconds?: number;
  deadManSeconds?: number;
  /** start the gateway's wstunnel server (the RunPod path) */
  wstunnel?: boolean;
  /** serve the self-built agent binary at /v1/agent/<arch> (what the launch stub fetches) */
  agentBinary?: boolean;
}): Promise<World> {
  const scope = createProcessScope('anex-agent-test');
  cleanups.push(() => scope.close());
  const wireproxy = wireproxyBinary();
  copyFileSync(wireproxy, join(scope.dir, 'wireproxy'));
  execFileSync('tar', ['-czf', join(scope.dir, 'wireproxy.tar.gz'), '-C', scope.dir, 'wireproxy']);
  const asset =
    options.format === 'tar.gz' ? join(scope.dir, 'wireproxy.tar.gz') : join(scope.dir, 'wireproxy');
  const recorder = join(scope.dir, 'wstunnel');
  writeFileSync(recorder, WSTUNNEL_RECORDER, { mode: 0o755 });
  const filePort = await serveFiles({ '/wireproxy': asset, '/wstunnel': recorder });
  const sha256 = options.corruptChecksum
    ? createHash('sha256').update('something else').digest('hex')
    : sha256File(asset);
  const [gwUdp, health, tunnelPort, endpointPort, clientPort] = await freePorts(5);
  if (!gwUdp || !health || !tunnelPort || !endpointPort || !clientPort) throw new Error('no free ports');
  const remote = `127.0.0.1:${gwUdp}`;
  const server = options.wstunnel
    ? await startWstunnelServer(scope, { restrictTo: remote, pathPrefix: WSTUNNEL_PREFIX })
    : undefined;
  const gateway = wgKeyPair();
  const settings = tunnelSettings(
    {
      vpnRange: parseVpnRange('10.250.0.0/24'),
      udpEndpoint: `127.0.0.1:${gwUdp}`,
      clusterCidrs: [],
      healthPort: health,
      readyTimeoutSeconds: 60,
      aliveIntervalSeconds: options.aliveIntervalSeconds ?? 60,
      deadManSeconds: options.deadManSeconds ?? 1800,
      allowInsecureBinaryUrls: true,
      wstunnel: {
        serverUrl: server?.url ?? 'wss://gw.example.test',
        pathPrefix: WSTUNNEL_PREFIX,
        localPort: clientPort,
        remote,
      },
      binaries: {
        wireproxy: aPin('wireproxy', {
          url: `http://127.0.0.1:${filePort}/wireproxy`,
          sha256,
          format: options.format,
        }),
        wstunnel: aPin('wstunnel', {
          url: `http://127.0.0.1:${filePort}/wstunnel`,
          sha256: sha256File(recorder),
          format: 'binary',
        }),
      },
    },
    gateway,
  );
  const h = endpointHarness(settings);
  if (options.agentBinary === true) {
    h.deps.agentDownload = async (arch) => `http://127.0.0.1:${endpointPort}${binaryPath('agent', arch)}`;
  }
  const endpoint = await serveAgentEndpoint({
    port: endpointPort,
    deps: h.deps,
    ...(options.agentBinary === true
      ? { binaries: { agent: builtFiles(agentBuildDir(), builtManifest()).agent } }
      : {}),
  });
  cleanups.push(() => endpoint.close());
  const service = await startHttpService(SERVICE_TEXT);
  cleanups.push(service.close);
  // The gateway admits peers from state: start it once the agent's key is there.
  void startGatewayWhenPeerKnown({
    h,
    scope,
    wireproxy,
    gatewayKey: gateway.privateKey,
    gwUdp,
    servicePort: service.port,
  });
  return {
    h,
    url: endpoint.url,
    scope,
    tunnelPort,
    stopEndpoint: () => endpoint.close(),
    server,
  };
}

async function startGatewayWhenPeerKnown(o: {
  h: EndpointHarness;
  scope: ProcessScope;
  wireproxy: string;
  gatewayKey: string;
  gwUdp: number;
  servicePort: number;
}) {
  let stopped = false;
  cleanups.push(() => {
    stopped = true;
  });
  while (!stopped) {
    const peers = desiredPeers(await o.h.store.listAddresses(), o.h.deps.settings.vpnRange);
    if (peers.length > 0) {
      const conf = renderGatewayWireproxyConfig({
        address: '10.250.0.1',
        privateKey: o.gatewayKey,
        listenPort: o.gwUdp,
        peers,
        serverTunnels: [{ listenPort: 8080, target: `127.0.0.1:${o.servicePort}` }],
      });
      writeFileSync(join(o.scope.dir, 'gateway.conf'), conf, { mode: 0o600 });
      o.scope.spawn({
        name: 'gateway',
        command: o.wireproxy,
        args: ['-s', '-c', join(o.scope.dir, 'gateway.conf')],
      });
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface AgentRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; stderr: string }>;
}

/** Starts an agent as a provider's runtime would: its own process group, `env` over PATH and HOME. */
export function spawnAgent(command: string, argv: readonly string[], env: Record<string, string>): AgentRun {
  const child = spawn(command, argv, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  child.stdout?.resume();
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    // 'close', not 'exit': only then has all of stderr been read (a fast exit otherwise races it).
    child.on('close', (code) => resolve({ code, stderr }));
  });
  cleanups.push(() => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return { child, done };
}

export async function finished(run: AgentRun, timeoutMs = 120_000) {
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`agent did not finish within ${timeoutMs} ms`)), timeoutMs).unref(),
  );
  return Promise.race([run.done, timer]);
}

export async function podAndToken(w: World, launch: Parameters<typeof aLaunch>[0]) {
  const pod = aLaunch(launch);
  w.h.backend.addPod(pod);
  const { token } = await issueBootstrapToken(w.h.store, { podUid: pod.podUid, now: w.h.clock.now });
  const env = {
    ANEX_AGENT_URL: w.url,
    ANEX_BOOTSTRAP_TOKEN: token,
    ANEX_POD_UID: pod.podUid,
    ANEX_AGENT_INSECURE: '1',
    // The pod's "container": its work directory, where the agent's restart marker lives.
    ANEX_AGENT_DIR: join(w.scope.dir, `container-${pod.podUid}`),
  };
  return { pod, token, env };
}

export function workload(w: World, out: string, extra = ''): Parameters<typeof aLaunch>[0] {
  return {
    command: ['sh', '-c'],
    args: [
      `curl -sS -m 10 -x http://127.0.0.1:3128 http://10.250.0.1:8080/ > "$OUT"; echo >> "$OUT"; curl -sS -m 10 http://127.0.0.1:$TUNNEL_PORT/ >> "$OUT"; echo " $GREETING" >> "$OUT"; ${extra}exit 7`,
    ],
    env: {
      OUT: out,
      GREETING: 'hi there',
      TUNNEL_PORT: String(w.tunnelPort),
      [`GW_TUNNEL_${w.tunnelPort}`]: '10.250.0.1:8080',
    },
  };
}
