import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';
import { parseVpnRange } from './addresses.ts';
import type { TunnelSettings } from './endpoint/types.ts';
import { targetProblem } from './gw-tunnels.ts';
import { isWgKey } from './keys.ts';
import { type BinaryPin, WIREPROXY_PIN, WSTUNNEL_PIN } from './pins.ts';

/**
 * The agent endpoint's {@link TunnelSettings} from environment variables, for the composition
 * roots (Lambda `agent` function, `anex run`). Every problem is reported at once, naming the
 * variable, its value and the accepted form. The wstunnel path prefix is a secret and comes
 * in separately (from the secrets store), never from plain env.
 */
export const TUNNEL_ENV = {
  vpnRange: 'ANEX_VPN_RANGE',
  gatewayPublicKey: 'ANEX_GATEWAY_PUBLIC_KEY',
  udpEndpoint: 'ANEX_GATEWAY_UDP_ENDPOINT',
  wstunnelUrl: 'ANEX_GATEWAY_WSS_URL',
  clusterCidrs: 'ANEX_CLUSTER_CIDRS',
  dns: 'ANEX_CLUSTER_DNS',
  mtu: 'ANEX_TUNNEL_MTU',
  gatewayTokenHash: 'ANEX_GATEWAY_TOKEN_SHA256',
  binaries: 'ANEX_AGENT_BINARIES',
} as const;

const CIDR4 = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const IP4 = /^\d{1,3}(\.\d{1,3}){3}$/;

const asset = z.strictObject({
  url: z.string().url(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'lower-case hex SHA-256')
    .optional(),
  format: z.enum(['binary', 'tar.gz']),
});
const pin = z.strictObject({
  version: z.string().min(1),
  source: z.string().default('operator override'),
  assets: z.strictObject({ amd64: asset, arm64: asset }),
});
const binaries = z.strictObject({ wireproxy: pin.optional(), wstunnel: pin.optional() });

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

type Getter = (key: keyof typeof TUNNEL_ENV) => string | undefined;

export function tunnelSettingsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  secrets: { wstunnelPathPrefix?: string },
): TunnelSettings {
  const issues: string[] = [];
  const get: Getter = (key) => {
    const value = env[TUNNEL_ENV[key]];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const gateway = readGateway(get, secrets, issues);
  const network = readNetwork(get, issues);
  const tokenHash = get('gatewayTokenHash');
  if (tokenHash !== undefined && !/^[0-9a-f]{64}$/.test(tokenHash)) {
    issues.push(`${TUNNEL_ENV.gatewayTokenHash}: expected the lower-case hex SHA-256 of the gateway's token`);
  }
  const pins = binaryPins(get('binaries'), issues);
  if (issues.length > 0 || network.vpnRange === undefined) throw new InvalidInputError(issues);
  return {
    ...gateway,
    ...network,
    vpnRange: network.vpnRange,
    binaries: pins,
    ...(tokenHash === undefined ? {} : { gatewayTokenHash: tokenHash }),
  };
}

function readGateway(get: Getter, secrets: { wstunnelPathPrefix?: string }, issues: string[]) {
  const publicKey = get('gatewayPublicKey');
  if (publicKey === undefined || !isWgKey(publicKey)) {
    issues.push(
      `${TUNNEL_ENV.gatewayPublicKey}=${JSON.stringify(publicKey ?? '')}: expected the gateway WireGuard public key (44 base64 characters)`,
    );
  }
  const udpEndpoint = get('udpEndpoint');
  if (
    udpEndpoint === undefined ||
    (targetProblem(udpEndpoint) !== undefined && !/^[\d.]+:\d+$/.test(udpEndpoint))
  ) {
    issues.push(
      `${TUNNEL_ENV.udpEndpoint}=${JSON.stringify(udpEndpoint ?? '')}: expected host:port of the gateway UDP service`,
    );
  }
  const wstunnelUrl = get('wstunnelUrl');
  if (wstunnelUrl !== undefined && !/^wss:\/\/[^/\s]+\/?$/.test(wstunnelUrl)) {
    issues.push(`${TUNNEL_ENV.wstunnelUrl}=${JSON.stringify(wstunnelUrl)}: expected wss://host[:port]`);
  }
  if (wstunnelUrl !== undefined && !secrets.wstunnelPathPrefix) {
    issues.push(`${TUNNEL_ENV.wstunnelUrl} is set but the wstunnel path prefix secret is missing`);
  }
  return {
    gatewayPublicKey: publicKey ?? '',
    udpEndpoint: udpEndpoint ?? '',
    ...(wstunnelUrl && secrets.wstunnelPathPrefix
      ? { wstunnel: { serverUrl: wstunnelUrl, pathPrefix: secrets.wstunnelPathPrefix } }
      : {}),
  };
}

function readNetwork(get: Getter, issues: string[]) {
  let vpnRange: TunnelSettings['vpnRange'] | undefined;
  try {
    vpnRange = parseVpnRange(get('vpnRange') ?? '10.99.0.0/16');
  } catch (error) {
    issues.push(`${TUNNEL_ENV.vpnRange}: ${(error as Error).message}`);
  }
  const clusterCidrs = list(get('clusterCidrs'));
  for (const c of clusterCidrs.filter((c) => !CIDR4.test(c))) {
    issues.push(`${TUNNEL_ENV.clusterCidrs}: ${JSON.stringify(c)} is not an IPv4 CIDR`);
  }
  const dns = list(get('dns'));
  for (const d of dns.filter((d) => !IP4.test(d)))
    issues.push(`${TUNNEL_ENV.dns}: ${JSON.stringify(d)} is not an IPv4 address`);
  const mtuText = get('mtu');
  const mtu = mtuText === undefined ? undefined : Number(mtuText);
  if (mtu !== undefined && !(Number.isInteger(mtu) && mtu >= 1280 && mtu <= 1500)) {
    issues.push(`${TUNNEL_ENV.mtu}=${JSON.stringify(mtuText)}: expected a whole number from 1280 to 1500`);
  }
  return {
    vpnRange,
    clusterCidrs,
    ...(dns.length > 0 ? { dns } : {}),
    ...(mtu === undefined ? {} : { mtu }),
  };
}

/** The shipped pins, or an operator's JSON override (e.g. self-hosted builds with checksums). */
function binaryPins(text: string | undefined, issues: string[]): TunnelSettings['binaries'] {
  if (text === undefined) return { wireproxy: WIREPROXY_PIN, wstunnel: WSTUNNEL_PIN };
  let parsed: z.infer<typeof binaries> | undefined;
  try {
    const result = binaries.safeParse(JSON.parse(text));
    if (result.success) parsed = result.data;
    else
      issues.push(
        `${TUNNEL_ENV.binaries}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
  } catch {
    issues.push(
      `${TUNNEL_ENV.binaries}: not JSON (expected {"wireproxy":{"version","assets":{"amd64":{url,sha256,format},"arm64":{…}}}})`,
    );
  }
  const toPin = (
    name: BinaryPin['name'],
    p: z.infer<typeof pin> | undefined,
    fallback: BinaryPin,
  ): BinaryPin =>
    p === undefined
      ? fallback
      : {
          name,
          version: p.version,
          source: p.source,
          assets: {
            amd64: { url: p.assets.amd64.url, sha256: p.assets.amd64.sha256, format: p.assets.amd64.format },
            arm64: { url: p.assets.arm64.url, sha256: p.assets.arm64.sha256, format: p.assets.arm64.format },
          },
        };
  return {
    wireproxy: toPin('wireproxy', parsed?.wireproxy, WIREPROXY_PIN),
    wstunnel: toPin('wstunnel', parsed?.wstunnel, WSTUNNEL_PIN),
  };
}
