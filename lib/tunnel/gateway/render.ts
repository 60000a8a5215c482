import { InvalidInputError } from '../../errors.ts';
import { type IniSection, renderIni } from '../ini.ts';
import { isWgKey } from '../keys.ts';
import type { GatewayPeer } from './peers.ts';

export const DEFAULT_WG_PORT = 51820;

/** A `[TCPServerTunnel]`: a port on the gateway's tunnel address forwarded to a cluster service. */
export interface ServerTunnel {
  listenPort: number;
  target: string;
}

export interface GatewayWireproxyOptions {
  /** the gateway's tunnel address (first host of the VPN range) */
  address: string;
  privateKey: string;
  listenPort?: number;
  peers: readonly GatewayPeer[];
  serverTunnels: readonly ServerTunnel[];
}

/**
 * wireproxy in the server role (ListenPort, peers without Endpoint, `[TCPServerTunnel]`):
 * needs no TUN device or privileges, so it serves tests and small setups; it cannot add peers
 * without a restart, which is why the cluster gateway uses wireguard-go + `wg syncconf`.
 */
export function renderGatewayWireproxyConfig(options: GatewayWireproxyOptions): string {
  const issues = keyIssues(options.privateKey, options.peers);
  if (issues.length > 0) throw new InvalidInputError(issues);
  const sections: IniSection[] = [
    {
      name: 'Interface',
      entries: [
        ['Address', `${options.address}/32`],
        ['PrivateKey', options.privateKey],
        ['ListenPort', options.listenPort ?? DEFAULT_WG_PORT],
      ],
    },
    ...peerSections(options.peers),
    ...options.serverTunnels.map((t) => ({
      name: 'TCPServerTunnel',
      entries: [
        ['ListenPort', t.listenPort],
        ['Target', t.target],
      ] as const,
    })),
  ];
  return renderIni(sections);
}

/**
 * The full device config for `wg syncconf` (wg(8) syntax): `wg syncconf` applies only the
 * differences, so existing sessions survive while peers come and go.
 */
export function renderWgSyncConfig(options: {
  privateKey: string;
  listenPort?: number;
  peers: readonly GatewayPeer[];
}): string {
  const issues = keyIssues(options.privateKey, options.peers);
  if (issues.length > 0) throw new InvalidInputError(issues);
  return renderIni([
    {
      name: 'Interface',
      entries: [
        ['PrivateKey', options.privateKey],
        ['ListenPort', options.listenPort ?? DEFAULT_WG_PORT],
      ],
    },
    ...peerSections(options.peers),
  ]);
}

function peerSections(peers: readonly GatewayPeer[]): IniSection[] {
  return peers.map((p) => ({
    name: 'Peer',
    entries: [
      ['PublicKey', p.publicKey],
      ['AllowedIPs', `${p.address}/32`],
    ],
  }));
}

function keyIssues(privateKey: string, peers: readonly GatewayPeer[]): string[] {
  const issues = isWgKey(privateKey) ? [] : ['gateway privateKey: not a WireGuard key (32 bytes, base64)'];
  for (const p of peers) {
    if (!isWgKey(p.publicKey))
      issues.push(`peer ${p.address}: ${JSON.stringify(p.publicKey)} is not a WireGuard public key`);
  }
  return issues;
}
