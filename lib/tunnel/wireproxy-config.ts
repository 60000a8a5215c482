import { InvalidInputError } from '../errors.ts';
import { type GwTunnel, type ReservedPort, targetProblem } from './gw-tunnels.ts';
import { iniValueIssues, renderIni } from './ini.ts';
import { isWgKey } from './keys.ts';

/** The agent's HTTP proxy into the cluster. Loopback only: 0.0.0.0 would open the cluster to the host. */
export const PROXY_PORT = 3128;
/** wireproxy's health server (`-i`), also loopback only. */
export const DEFAULT_HEALTH_PORT = 9080;
export const DEFAULT_KEEPALIVE_SECONDS = 25;
/** Headroom for cloud load balancers and overlays (GKE needed 1380 per wireguard-operator). */
export const DEFAULT_MTU = 1380;
/**
 * Stands for the agent's private key when the agent generated its own pair: the agent puts
 * the real key in place before writing the file (mode 0600), so the key never leaves it.
 */
export const PRIVATE_KEY_PLACEHOLDER = '@ANEX_WG_PRIVATE_KEY@';
/**
 * The agent API (ADR 0023 §4): the agent serves it on 127.0.0.1:10250 and wireproxy exposes it
 * on the pod's VPN address only, where only the gateway can reach it (ADR 0020). Must equal
 * lib/tunnel/agent-build/agent/pkg/agentapi Port.
 */
export const AGENT_API_PORT = 10250;

export interface AgentWireproxyOptions {
  /** the pod's VPN address (rendered as /32) */
  address: string;
  /** base64 WireGuard key, or {@link PRIVATE_KEY_PLACEHOLDER} */
  privateKey: string;
  gatewayPublicKey: string;
  /** `host:port` of the gateway's UDP socket (Vast) or of the local wstunnel client (RunPod) */
  endpoint: string;
  /** what the tunnel carries: VPN range, Service CIDR (+ Pod CIDR) */
  allowedIps: readonly string[];
  /** cluster DNS; without it the HTTP proxy cannot resolve names */
  dns?: readonly string[];
  mtu?: number;
  /** address pinged through the tunnel for /readyz (the gateway's tunnel address) */
  checkAlive?: string;
  checkAliveIntervalSeconds?: number;
  keepaliveSeconds?: number;
  presharedKey?: string;
  tunnels: readonly GwTunnel[];
  /** port of wireproxy's `-i` health server, so no tunnel can take it */
  healthPort?: number;
}

/** Ports the agent uses itself; GW_TUNNEL_* may not take them. */
export function reservedPorts(healthPort: number = DEFAULT_HEALTH_PORT): ReservedPort[] {
  return [
    { port: PROXY_PORT, what: "the agent's HTTP proxy (127.0.0.1:3128)" },
    { port: healthPort, what: `wireproxy's health endpoint (127.0.0.1:${healthPort})` },
    { port: AGENT_API_PORT, what: `the agent API (VPN address:${AGENT_API_PORT}, ADR 0023)` },
  ];
}

const IP_OR_CIDR = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;

/**
 * Renders the agent's wireproxy config: `[Interface]`, one `[Peer]` (the gateway), `[http]`
 * on 127.0.0.1:3128, the `[TCPServerTunnel]` of the agent API and one `[TCPClientTunnel]` per
 * GW_TUNNEL_* entry. Uses only keys every wireproxy ≥ v1.0.8 understands and no `$ENV`
 * substitution (added in v1.0.10).
 * @throws InvalidInputError listing every problem found.
 */
export function renderAgentWireproxyConfig(options: AgentWireproxyOptions): string {
  const issues = agentConfigIssues(options);
  if (issues.length > 0) throw new InvalidInputError(issues);
  const tunnels = [...options.tunnels].sort((a, b) => a.port - b.port);
  return renderIni([
    {
      name: 'Interface',
      entries: [
        ['Address', `${options.address}/32`],
        ['PrivateKey', options.privateKey],
        ['DNS', options.dns && options.dns.length > 0 ? options.dns.join(', ') : undefined],
        ['MTU', options.mtu ?? DEFAULT_MTU],
        ['CheckAlive', options.checkAlive],
        ['CheckAliveInterval', options.checkAlive ? (options.checkAliveIntervalSeconds ?? 5) : undefined],
      ],
    },
    {
      name: 'Peer',
      entries: [
        ['PublicKey', options.gatewayPublicKey],
        ['PresharedKey', options.presharedKey],
        ['Endpoint', options.endpoint],
        ['AllowedIPs', options.allowedIps.join(', ')],
        ['PersistentKeepalive', options.keepaliveSeconds ?? DEFAULT_KEEPALIVE_SECONDS],
      ],
    },
    { name: 'http', entries: [['BindAddress', `127.0.0.1:${PROXY_PORT}`]] },
    // The agent API on the VPN address only (ADR 0023 §4). wireproxy v1.0.9 reads the section
    // and both keys in config.go:346-362 (parseTCPServerTunnelConfig, registered at
    // config.go:469) and listens on every address of its netstack, i.e. the VPN address
    // alone, in routine.go:329-336 (SpawnRoutine: ListenTCP(&net.TCPAddr{Port: ListenPort})).
    {
      name: 'TCPServerTunnel',
      entries: [
        ['ListenPort', AGENT_API_PORT],
        ['Target', `127.0.0.1:${AGENT_API_PORT}`],
      ],
    },
    ...tunnels.map((t) => ({
      name: 'TCPClientTunnel',
      entries: [
        ['BindAddress', `127.0.0.1:${t.port}`],
        ['Target', t.target],
      ] as const,
    })),
  ]);
}

function agentConfigIssues(options: AgentWireproxyOptions): string[] {
  const issues: string[] = [];
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(options.address)) {
    issues.push(`address: ${JSON.stringify(options.address)} is not an IPv4 address (e.g. 10.250.0.2)`);
  }
  if (options.privateKey !== PRIVATE_KEY_PLACEHOLDER && !isWgKey(options.privateKey)) {
    issues.push('privateKey: not a WireGuard key (32 bytes, base64, 44 characters)');
  }
  if (!isWgKey(options.gatewayPublicKey)) {
    issues.push(
      `gatewayPublicKey: ${JSON.stringify(options.gatewayPublicKey)} is not a WireGuard public key`,
    );
  }
  if (options.presharedKey !== undefined && !isWgKey(options.presharedKey)) {
    issues.push('presharedKey: not a WireGuard key (32 bytes, base64)');
  }
  const endpointProblem = /^[0-9.]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(options.endpoint)
    ? undefined
    : targetProblem(options.endpoint);
  if (endpointProblem) issues.push(`endpoint: ${JSON.stringify(options.endpoint)} ${endpointProblem}`);
  if (options.allowedIps.length === 0 || !options.allowedIps.every((ip) => IP_OR_CIDR.test(ip))) {
    issues.push(`allowedIps: ${JSON.stringify(options.allowedIps)} must be a non-empty list of IPs or CIDRs`);
  }
  for (const ip of [...(options.dns ?? []), ...(options.checkAlive ? [options.checkAlive] : [])]) {
    if (!/^[0-9a-fA-F:.]+$/.test(ip))
      issues.push(`dns/checkAlive: ${JSON.stringify(ip)} is not an IP address`);
  }
  issues.push(...tunnelIssues(options.tunnels, options.healthPort ?? DEFAULT_HEALTH_PORT));
  issues.push(...iniValueIssues({ endpoint: options.endpoint }));
  return issues;
}

function tunnelIssues(tunnels: readonly GwTunnel[], healthPort: number): string[] {
  const issues: string[] = [];
  const reserved = reservedPorts(healthPort);
  const seen = new Set<number>();
  for (const tunnel of tunnels) {
    const name = `GW_TUNNEL_${tunnel.port}`;
    if (!Number.isInteger(tunnel.port) || tunnel.port < 1 || tunnel.port > 65535) {
      issues.push(`${name}: port must be from 1 to 65535`);
    }
    const clash = reserved.find((r) => r.port === tunnel.port);
    if (clash) issues.push(`${name}: port ${tunnel.port} is taken by ${clash.what}`);
    if (seen.has(tunnel.port)) issues.push(`${name}: port ${tunnel.port} appears twice`);
    seen.add(tunnel.port);
    const problem = targetProblem(tunnel.target);
    if (problem) issues.push(`${name}=${JSON.stringify(tunnel.target)}: the destination ${problem}`);
    issues.push(...iniValueIssues({ [name]: tunnel.target }));
  }
  return issues;
}
