import { InvalidInputError } from '../errors.ts';
import type { Cluster } from '../kube/cluster.ts';
import { GATEWAY_TRANSPORT } from '../providers/provider.ts';
import { ReconcilerAgentBackend, type ReconcilerAgentBackendOptions } from '../reconcile/agent-backend.ts';
import { agentLaunch } from '../reconcile/agent-launch.ts';
import type { LaunchBuilder } from '../reconcile/launch.ts';
import type { Store } from '../state/store.ts';
import { parseVpnRange } from '../tunnel/addresses.ts';
import type { BinaryFiles } from '../tunnel/endpoint/binaries.ts';
import { tokenBucketLimiter } from '../tunnel/endpoint/rate-limit.ts';
import { type AgentEndpointServer, serveAgentEndpoint } from '../tunnel/endpoint/server.ts';
import type { TunnelSettings } from '../tunnel/endpoint/types.ts';
import { isWgKey } from '../tunnel/keys.ts';
import { type ServedBinaries, selfServedBinaries } from './agent-binaries.ts';
import { freePort } from './control-plane/ports.ts';

/** The WireGuard gateway agents connect to. */
export interface LocalGatewayOptions {
  publicKey: string;
  /** the gateway's UDP WireGuard address as agents dial it (`host:port`) */
  endpoint: string;
  /** the gateway's wstunnel server (RunPod blocks UDP); the path prefix is its shared secret */
  wstunnel?: { serverUrl: string; pathPrefix: string };
  clusterCidrs: readonly string[];
}

/** The agent side of local mode: where agents reach us and where the WireGuard gateway is. */
export interface LocalTunnelOptions {
  /** the URL agents on rented machines use (lib/config `agentEndpointUrl`); a tunnel or proxy in front of `listen` */
  agentUrl: string;
  /** `host:port` the endpoint listens on */
  listen: string;
  vpnRange: string;
  /**
   * The gateway; absent: agents run pods without a tunnel (transport `none`: the pod cannot
   * reach the cluster — the demo and `anex run --simulate` without a gateway, degraded).
   */
  gateway?: LocalGatewayOptions;
  /**
   * wireproxy / wstunnel pins the operator gave (ANEX_AGENT_BINARIES). Each binary without a
   * pin is anex's own build, served by this endpoint (lib/local/agent-binaries.ts).
   */
  binaries?: Partial<TunnelSettings['binaries']>;
  /**
   * hex SHA-256 of the credential GET /v1/peers and /v1/logs take: the anex-kubelet local
   * mode serves (lib/local/kubelet-process.ts) holds the secret. Unset: those routes are off.
   */
  gatewayTokenHash?: string;
}

export interface LocalAgentEndpoint {
  server: AgentEndpointServer;
  /** the launch that hands rented machines the stub, this endpoint's URL and a one-time token */
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
  /** the container's effective argv over its image config (ReconcilerAgentBackend `command`) */
  command?: ReconcilerAgentBackendOptions['command'];
  /** where an exit report asks for the pod's pass (ReconcilerAgentBackend `passes`) */
  passes?: ReconcilerAgentBackendOptions['passes'];
}): Promise<LocalAgentEndpoint> {
  const { tunnel, store, cluster, log } = options;
  const [host, port] = splitListen(tunnel.listen);
  if (tunnel.gateway !== undefined) checkGateway(tunnel.gateway);
  const { binaries, files, agent } = agentBinaries(tunnel, log);
  const settings = tunnelSettings(tunnel, binaries);
  const server = await serveAgentEndpoint({
    host,
    port,
    binaries: files,
    deps: {
      store: tunnel.gateway === undefined ? untunnelledPeers(store) : store,
      backend: new ReconcilerAgentBackend({
        store,
        cluster,
        transport: tunnel.gateway === undefined ? { vastai: 'none', runpod: 'none' } : GATEWAY_TRANSPORT,
        ...(options.command === undefined ? {} : { command: options.command }),
        ...(options.passes === undefined ? {} : { passes: options.passes }),
      }),
      settings,
      // Fields are the handler's own (pod uid, route, error kind): it passes no secrets.
      logger: {
        info: (message, fields) => log(`agent endpoint: ${message} ${JSON.stringify(fields ?? {})}`),
        warn: (message, fields) => log(`agent endpoint: warning: ${message} ${JSON.stringify(fields ?? {})}`),
      },
      now: Date.now,
      rateLimiter: tokenBucketLimiter(),
      agentDownload: agent.download,
    },
  });
  const launch = agentLaunch({
    store,
    range: settings.vpnRange,
    endpointUrl: tunnel.agentUrl,
    insecure: tunnel.agentUrl.startsWith('http://'),
    now: Date.now,
    agent: agent.artifact,
  });
  return { server, launch };
}

/**
 * The agent is always anex's own build, served by this endpoint; each helper binary is the
 * operator's pin when ANEX_AGENT_BINARIES names it, else anex's own build too.
 */
function agentBinaries(
  tunnel: LocalTunnelOptions,
  log: (line: string) => void,
): { binaries: TunnelSettings['binaries']; files: BinaryFiles; agent: ServedBinaries['agent'] } {
  const operator = tunnel.binaries;
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
    agent: served.agent,
  };
}

/**
 * Without a gateway every pod runs untunnelled (transport `none`), yet bootstrap still records
 * a WireGuard key on each pod's address, so GET /v1/peers would list pods no tunnel reaches
 * and anex-kubelet would dial their VPN addresses (a connect timeout, or whatever answers that
 * address on this host's network) instead of answering "runs without a tunnel" (ADR 0023 §6).
 * The endpoint sees the allocations without keys here: no peers, and no key conflicts to
 * check (nothing uses the keys). Only the endpoint's view: the store keeps them.
 */
function untunnelledPeers(store: Store): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'listAddresses') {
        return async () =>
          (await target.listAddresses()).map(({ publicKey: _key, ...allocation }) => allocation);
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Bad gateway flags fail before any build starts. */
function checkGateway(gateway: LocalGatewayOptions): void {
  const issues: string[] = [];
  if (!isWgKey(gateway.publicKey)) {
    issues.push(
      `--gateway-public-key: ${JSON.stringify(gateway.publicKey)} is not a WireGuard public key (44 base64 characters, from \`wg pubkey\`)`,
    );
  }
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(gateway.endpoint)) {
    issues.push(
      `--gateway-endpoint: ${JSON.stringify(gateway.endpoint)} is not host:port of the gateway's WireGuard UDP port (e.g. "gw.example.com:51820")`,
    );
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
}

function tunnelSettings(tunnel: LocalTunnelOptions, binaries: TunnelSettings['binaries']): TunnelSettings {
  const { gateway } = tunnel;
  return {
    vpnRange: parseVpnRange(tunnel.vpnRange),
    // Without a gateway every launch is transport `none`: these are never rendered.
    gatewayPublicKey: gateway?.publicKey ?? '',
    udpEndpoint: gateway?.endpoint ?? '',
    ...(gateway?.wstunnel === undefined ? {} : { wstunnel: gateway.wstunnel }),
    clusterCidrs: gateway?.clusterCidrs ?? [],
    binaries,
    ...(tunnel.gatewayTokenHash === undefined ? {} : { gatewayTokenHash: tunnel.gatewayTokenHash }),
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

/**
 * The agent endpoint on a free loopback port with no gateway: for machines that run on this
 * host (the simulated marketplace, in this process or in `anex sim`). Agents run pods without
 * a tunnel (transport `none`).
 */
export async function loopbackAgentOptions(vpnRange: string): Promise<LocalTunnelOptions> {
  const port = await freePort();
  return { agentUrl: `http://127.0.0.1:${port}`, listen: `127.0.0.1:${port}`, vpnRange };
}
