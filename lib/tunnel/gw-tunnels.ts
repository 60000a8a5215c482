/**
 * `GW_TUNNEL_<port>=<dest>` environment variables: each asks for a local TCP port inside the
 * container (127.0.0.1:<port>) forwarded through the tunnel to `<dest>` in the cluster.
 */
export interface GwTunnel {
  /** local port inside the container, bound on 127.0.0.1 */
  port: number;
  /** `host:port` reached through the tunnel */
  target: string;
}

export const GW_TUNNEL_PREFIX = 'GW_TUNNEL_';

/** A port already used by the agent in the container; a tunnel may not take it. */
export interface ReservedPort {
  port: number;
  what: string;
}

export interface GwTunnelParse {
  tunnels: GwTunnel[];
  /** one message per bad variable, naming it, its value and the accepted form */
  issues: string[];
}

const PORT_TEXT = /^[1-9][0-9]{0,4}$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function parsePort(text: string): number | undefined {
  if (!PORT_TEXT.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** Why `dest` is not a usable `host:port`, or undefined when it is. */
export function targetProblem(dest: string): string | undefined {
  const colon = dest.lastIndexOf(':');
  const host = colon > 0 ? dest.slice(0, colon) : '';
  const port = colon > 0 ? parsePort(dest.slice(colon + 1)) : undefined;
  if (!host || port === undefined) return 'is not host:port with a port from 1 to 65535';
  if (IPV4.test(host)) return undefined;
  if (/^\[[0-9A-Fa-f:.]+\]$/.test(host)) return undefined;
  const labels = host.replace(/\.$/, '').split('.');
  if (!labels.every((label) => HOST_LABEL.test(label)) || /^[0-9.]+$/.test(host)) {
    return 'has an invalid host name';
  }
  if (labels.length < 2) {
    // The tunnel resolves names as absolute FQDNs with no search list: `web` becomes `web.`.
    return 'uses a short host name; the tunnel has no DNS search domains, so write the full name (e.g. web.default.svc.cluster.local:80)';
  }
  return undefined;
}

/**
 * Picks the GW_TUNNEL_* variables out of a container env and validates them: port 1-65535 in
 * plain decimal, destination `host:port`, no port twice, no port the agent itself uses.
 * Accepts entries as a list so duplicate names (possible in a Kubernetes env list) are seen.
 */
export function parseGwTunnels(
  env: Iterable<readonly [string, string]> | Readonly<Record<string, string>>,
  reserved: readonly ReservedPort[],
): GwTunnelParse {
  const entries =
    Symbol.iterator in env ? [...(env as Iterable<readonly [string, string]>)] : Object.entries(env);
  const tunnels: GwTunnel[] = [];
  const issues: string[] = [];
  const seen = new Map<number, string>();
  for (const [name, value] of entries) {
    if (!name.startsWith(GW_TUNNEL_PREFIX)) continue;
    const problem = tunnelProblem(name, value, { reserved, seen });
    if (problem) {
      issues.push(problem);
      continue;
    }
    const port = Number(name.slice(GW_TUNNEL_PREFIX.length));
    seen.set(port, name);
    tunnels.push({ port, target: value });
  }
  tunnels.sort((a, b) => a.port - b.port);
  return { tunnels, issues };
}

function tunnelProblem(
  name: string,
  value: string,
  context: { reserved: readonly ReservedPort[]; seen: ReadonlyMap<number, string> },
): string | undefined {
  const port = parsePort(name.slice(GW_TUNNEL_PREFIX.length));
  if (port === undefined) {
    return `${name}: the part after ${GW_TUNNEL_PREFIX} must be a port from 1 to 65535 without leading zeros (e.g. GW_TUNNEL_5432)`;
  }
  const clash = context.reserved.find((r) => r.port === port);
  if (clash) return `${name}: port ${port} is taken by ${clash.what}; pick another local port`;
  const earlier = context.seen.get(port);
  if (earlier !== undefined)
    return `${name}: port ${port} is already tunnelled by ${earlier}; each port once`;
  const problem = targetProblem(value);
  if (problem) return `${name}=${JSON.stringify(value)}: the destination ${problem}`;
  return undefined;
}
