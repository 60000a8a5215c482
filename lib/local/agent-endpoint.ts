import { InvalidInputError } from '../errors.ts';
import type { Cluster } from '../kube/cluster.ts';
import { GATEWAY_TRANSPORT } from '../providers/provider.ts';
import { ReconcilerAgentBackend } from '../reconcile/agent-backend.ts';
import { agentLaunch } from '../reconcile/agent-launch.ts';
import type { LaunchBuilder } from '../reconcile/launch.ts';
import type { Store } from '../state/store.ts';
import { parseVpnRange } from '../tunnel/addresses.ts';
import type { BinaryFiles } from '../tunnel/endpoint/binaries.ts';
import { tokenBucketLimiter } from '../tunnel/endpoint/rate-limit.ts';
import { type AgentEndpointServer, serveAgentEndpoint } from '../tunnel/endpoint/server.ts';
import type { TunnelSettings } from '../tunnel/endpoint/types.ts';
import { isWgKey } from '../tunnel/keys.ts';
import { selfServedBinaries } from './agent-binaries.ts';

/** The tunnel side of local mode: where agents reach us and where the WireGuard gateway is. */
export interface LocalTunnelOptions {
  /** the URL agents on rented machines use (lib/config `agentEndpointUrl`); a tunnel or proxy in front of `listen` */
  agentUrl: string;
  /** `host:port` the endpoint listens on */
  listen: string;
  vpnRange: string;
  gatewayPublicKey: string;
  /** the gateway's UDP WireGuard address as agents dial it (`host:port`) */
  gatewayEndpoint: string;
  /** the gateway's wstunnel server (RunPod blocks UDP); the path prefix is its shared secret */
  wstunnel?: { serverUrl: string; pathPrefix: string };
  clusterCidrs: readonly string[];
  /**
   * wireproxy / wstunnel pins the operator gave (ANEX_AGENT_BINARIES). Each binary without a
   * pin is anex's own build, served by this endpoint (lib/local/agent-binaries.ts).
   */
  binaries?: Partial<TunnelSettings['binaries']>;
}

export interface LocalAgentEndpoint {
  server: AgentEndpointServer;
  /** the launch that hands rented machines the agent script, this endpoint's URL and a one-time token */
  launch: LaunchBuilder;
}

/**
 * The `agent` function of the serverless deployment, served by `anex run`: the same handler
 * (lib/tunnel/endpoint) over the same Store and Cluster as the pass, so agent reports land in
 * the pod records the next pass reads.
 */
export async function startLocalAgentEndpoint(options: {
  tunnel: LocalTunnelOptions;
  store: Store;
  cluster: Cluster;
  log: (line: string) => void;
}): Promise<LocalAgentEndpoint> {
  const { tunnel, store, cluster, log } = options;
  const [host, port] = splitListen(tunnel.listen);
  checkGateway(tunnel);
  const { binaries, files } = agentBinaries(tunnel, log);
  const settings = tunnelSettings(tunnel, binaries);
  const server = await serveAgentEndpoint({
    host,
    port,
    binaries: files,
    deps: {
      store,
      backend: new ReconcilerAgentBackend({
        store,
        cluster,
        transport: GATEWAY_TRANSPORT,
      }),
      settings,
      // Fields are the handler's own (pod uid, route, error kind): it passes no secrets.
      logger: {
        info: (message, fields) => log(`agent endpoint: ${message} ${JSON.stringify(fields ?? {})}`),
        warn: (message, fields) => log(`agent endpoint: warning: ${message} ${JSON.stringify(fields ?? {})}`),
      },
      now: Date.now,
      rateLimiter: tokenBucketLimiter(),
    },
  });
  const launch = agentLaunch({
    store,
    range: settings.vpnRange,
    endpointUrl: tunnel.agentUrl,
    insecure: tunnel.agentUrl.startsWith('http://'),
    now: Date.now,
  });
  return { server, launch };
}

/**
 * Each binary is the operator's pin when ANEX_AGENT_BINARIES names it, else anex's own build
 * served by this endpoint (built only when some binary needs it).
 */
function agentBinaries(
  tunnel: LocalTunnelOptions,
  log: (line: string) => void,
): { binaries: TunnelSettings['binaries']; files: BinaryFiles } {
  const operator = tunnel.binaries;
  if (operator?.wireproxy !== undefined && operator.wstunnel !== undefined) {
    return { binaries: { wireproxy: operator.wireproxy, wstunnel: operator.wstunnel }, files: {} };
  }
  const served = selfServedBinaries(tunnel.agentUrl);
  const pinned = (['wireproxy', 'wstunnel'] as const).filter((name) => operator?.[name] !== undefined);
  log(
    `agent binaries: ${served.summary}${pinned.length > 0 ? `; ANEX_AGENT_BINARIES pins ${pinned.join(' and ')}` : ''}`,
  );
  return {
    binaries: {
      wireproxy: operator?.wireproxy ?? served.pins.wireproxy,
      wstunnel: operator?.wstunnel ?? served.pins.wstunnel,
    },
    files: served.files,
  };
}

/** Bad gateway flags fail before any build starts. */
function checkGateway(tunnel: LocalTunnelOptions): void {
  const issues: string[] = [];
  if (!isWgKey(tunnel.gatewayPublicKey)) {
    issues.push(
      `--gateway-public-key: ${JSON.stringify(tunnel.gatewayPublicKey)} is not a WireGuard public key (44 base64 characters, from \`wg pubkey\`)`,
    );
  }
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(tunnel.gatewayEndpoint)) {
    issues.push(
      `--gateway-endpoint: ${JSON.stringify(tunnel.gatewayEndpoint)} is not host:port of the gateway's WireGuard UDP port (e.g. "gw.example.com:51820")`,
    );
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
}

function tunnelSettings(tunnel: LocalTunnelOptions, binaries: TunnelSettings['binaries']): TunnelSettings {
  return {
    vpnRange: parseVpnRange(tunnel.vpnRange),
    gatewayPublicKey: tunnel.gatewayPublicKey,
    udpEndpoint: tunnel.gatewayEndpoint,
    ...(tunnel.wstunnel === undefined ? {} : { wstunnel: tunnel.wstunnel }),
    clusterCidrs: tunnel.clusterCidrs,
    binaries,
    // Agents already fetch over http:// when the endpoint itself is http:// (their insecure
    // flag); the served binaries share its URL, and the checksum still guards the bytes.
    ...(tunnel.agentUrl.startsWith('http://') ? { allowInsecureBinaryUrls: true } : {}),
  };
}

function splitListen(listen: string): [string, number] {
  const match = /^([0-9.]+|localhost):(\d{1,5})$/.exec(listen);
  if (match === null || Number(match[2]) > 65_535) {
    throw new InvalidInputError([
      `--agent-listen: ${JSON.stringify(listen)} is not host:port (e.g. "127.0.0.1:8787", port 0 = any free port)`,
    ]);
  }
  return [match[1] as string, Number(match[2])];
}
