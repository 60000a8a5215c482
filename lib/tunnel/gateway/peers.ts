import type { AddressAllocation } from '../../state/store.ts';
import { inRange, type VpnRange } from '../addresses.ts';
import { renderIni } from '../ini.ts';
import { isWgKey } from '../keys.ts';

/** One agent the gateway admits: its key and its /32 (which also stops it spoofing others). */
export interface GatewayPeer {
  publicKey: string;
  address: string;
  podUid: string;
}

/**
 * The desired peer set: every allocation whose agent has bootstrapped (has a public key)
 * inside the VPN range, one per key, ordered by address so renders are stable and diffs small.
 */
export function desiredPeers(allocations: readonly AddressAllocation[], range: VpnRange): GatewayPeer[] {
  const byKey = new Map<string, GatewayPeer>();
  for (const a of allocations) {
    if (a.publicKey === undefined || !isWgKey(a.publicKey) || !inRange(range, a.address)) continue;
    // A key presented twice (agent retry after a crash) keeps its first address only.
    if (!byKey.has(a.publicKey))
      byKey.set(a.publicKey, { publicKey: a.publicKey, address: a.address, podUid: a.podUid });
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

/** `[Peer]` sections in wg(8) / wireproxy syntax (no Endpoint: learnt from each handshake). */
export function renderPeerSections(peers: readonly GatewayPeer[]): string {
  if (peers.length === 0) return '';
  return renderIni(
    peers.map((p) => ({
      name: 'Peer',
      entries: [
        ['PublicKey', p.publicKey],
        ['AllowedIPs', `${p.address}/32`],
      ] as const,
    })),
  );
}
