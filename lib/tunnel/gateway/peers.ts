import type { AddressAllocation } from '../../state/store.ts';
import { inRange, type VpnRange } from '../addresses.ts';
import { GW_TUNNEL_PREFIX, targetProblem } from '../gw-tunnels.ts';
import { isWgKey } from '../keys.ts';

/**
 * One agent the gateway admits: its key, its /32 (which also stops it spoofing others), and
 * what it may reach (ADR 0020): `<host>:<port>` or `<IPv4 CIDR>:<port>`, TCP. Cluster DNS is
 * the gateway's own to add; everything else is refused.
 */
export interface GatewayPeer {
  publicKey: string;
  address: string;
  podUid: string;
  allow: string[];
}

/**
 * A destination the gateway script can take as iptables arguments: a host name, an IPv4
 * address or network, and a port. Anything else (spaces, shell or iptables syntax) is never
 * served, so a stored value cannot widen the rules.
 */
const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DESTINATION = new RegExp(
  `^(${LABEL}(\\.${LABEL})*|\\d{1,3}(\\.\\d{1,3}){3}(/\\d{1,2})?):([1-9]\\d{0,4})$`,
);

export function isGatewayDestination(text: string): boolean {
  const match = DESTINATION.exec(text);
  return match !== null && Number(match.at(-1)) <= 65535;
}

/**
 * What a pod's peer may reach, recorded with its key at bootstrap: its GW_TUNNEL_* targets
 * (IPv4 or names; the gateway is IPv4 only) and its `anex.sh/allow-egress` entries, already
 * resolved to destinations (lib/annotations/allow-egress.ts). Sorted, each once.
 */
export function peerEgress(launch: {
  env: Readonly<Record<string, string>>;
  allowEgress?: readonly string[];
}): string[] {
  const out = new Set<string>();
  for (const [name, value] of Object.entries(launch.env)) {
    if (!name.startsWith(GW_TUNNEL_PREFIX) || targetProblem(value) !== undefined) continue;
    // A trailing dot (absolute name) resolves the same; the gateway matches without it.
    const target = value.replace(/\.:(\d+)$/, ':$1');
    if (isGatewayDestination(target)) out.add(target);
  }
  for (const destination of launch.allowEgress ?? []) {
    if (isGatewayDestination(destination)) out.add(destination);
  }
  return [...out].sort();
}

/**
 * The desired peer set: every allocation whose agent has bootstrapped (has a public key)
 * inside the VPN range, one per key, ordered by address so renders are stable and diffs small.
 * The gateway's own key is never a peer (a host presenting it would displace nothing real).
 */
export function desiredPeers(
  allocations: readonly AddressAllocation[],
  range: VpnRange,
  gatewayPublicKey?: string,
): GatewayPeer[] {
  const byKey = new Map<string, GatewayPeer>();
  for (const a of allocations) {
    if (a.publicKey === undefined || !isWgKey(a.publicKey) || !inRange(range, a.address)) continue;
    if (a.publicKey === gatewayPublicKey) continue;
    // A key presented twice (agent retry after a crash) keeps its first address only.
    if (!byKey.has(a.publicKey))
      byKey.set(a.publicKey, {
        publicKey: a.publicKey,
        address: a.address,
        podUid: a.podUid,
        allow: (a.egress ?? []).filter(isGatewayDestination),
      });
  }
  return [...byKey.values()].sort((x, y) => compareIp(x.address, y.address));
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The comment the gateway script reads a peer's allowed destination from: `# anex-allow <dest> <port>`. */
export const ALLOW_COMMENT = '# anex-allow';

/**
 * `[Peer]` sections in wg(8) syntax (no Endpoint: learnt from each handshake), each followed by
 * its allowed destinations as `# anex-allow <dest> <port>` comments: `wg syncconf` ignores
 * comments, and the gateway script renders its per-peer rules from the same answer, so the
 * keys and the rules it applies always come from one consistent peer list.
 */
export function renderPeerSections(peers: readonly GatewayPeer[]): string {
  if (peers.length === 0) return '';
  return peers
    .map((p) =>
      [
        '[Peer]',
        `PublicKey = ${p.publicKey}`,
        `AllowedIPs = ${p.address}/32`,
        ...p.allow.map((d) => {
          const colon = d.lastIndexOf(':');
          return `${ALLOW_COMMENT} ${d.slice(0, colon)} ${d.slice(colon + 1)}`;
        }),
      ].join('\n'),
    )
    .join('\n\n')
    .concat('\n');
}
