import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';
import { PROVIDERS } from '../offers/offer.ts';
import { GATEWAY_TRANSPORT } from '../providers/provider.ts';
import { gatewayAddress, parseVpnRange } from './addresses.ts';
import { parseGwTunnels } from './gw-tunnels.ts';
import { wgKeyPair } from './keys.ts';
import { renderAgentWireproxyConfig, reservedPorts } from './wireproxy-config.ts';
import { formatWstunnelCommand, wstunnelClientCommand } from './wstunnel.ts';

/**
 * What `anex tunnel config` shows: the wireproxy config (and on the wstunnel path the client
 * command) a pod's agent would get, with example values (marked so in a comment header) where
 * the real ones only exist at bootstrap (keys) or come from the installation (addresses, unless
 * given), so the output is a config the real wireproxy accepts.
 */
export interface TunnelPreviewOptions {
  vpnCidr?: string;
  dns?: readonly string[];
  clusterCidrs?: readonly string[];
  gatewayEndpoint?: string;
  wstunnelUrl?: string;
}

export interface TunnelPreview {
  provider: string | undefined;
  transport: 'udp' | 'wstunnel';
  tunnels: { port: number; target: string }[];
  wireproxyConfig: string;
  wstunnelCommand?: string;
}

const podSchema = z.object({
  spec: z
    .object({
      nodeSelector: z.record(z.string(), z.string()).nullish(),
      containers: z
        .array(
          z
            .object({
              env: z.array(z.object({ name: z.string(), value: z.string().nullish() }).loose()).nullish(),
            })
            .loose(),
        )
        .min(1),
    })
    .loose(),
});

const PLACEHOLDER_ADDRESS = '10.255.255.254';
const PLACEHOLDER_ENDPOINT = '192.0.2.1:51820';

export function previewTunnel(pod: unknown, options: TunnelPreviewOptions = {}): TunnelPreview {
  const parsed = podSchema.safeParse(pod);
  if (!parsed.success) {
    throw new InvalidInputError([
      'the pod manifest has no spec.containers[] (expected a Pod with at least one container)',
    ]);
  }
  const provider = parsed.data.spec.nodeSelector?.['node-provider'];
  const known = PROVIDERS.find((p) => p === provider);
  const transport = known === undefined ? 'udp' : GATEWAY_TRANSPORT[known];
  const env = (parsed.data.spec.containers[0]?.env ?? [])
    .filter((e) => typeof e.value === 'string')
    .map((e): [string, string] => [e.name, e.value ?? '']);
  const { tunnels, issues } = parseGwTunnels(env, reservedPorts());
  if (issues.length > 0) throw new InvalidInputError(issues);
  const wstunnel =
    transport === 'wstunnel'
      ? wstunnelClientCommand({ serverUrl: options.wstunnelUrl ?? 'wss://gateway.invalid' })
      : undefined;
  const range = parseVpnRange(options.vpnCidr ?? '10.250.0.0/16');
  const keys = { agent: wgKeyPair().privateKey, gateway: wgKeyPair().publicKey };
  let config = renderAgentWireproxyConfig({
    address: PLACEHOLDER_ADDRESS,
    privateKey: keys.agent,
    gatewayPublicKey: keys.gateway,
    endpoint: wstunnel?.localEndpoint ?? options.gatewayEndpoint ?? PLACEHOLDER_ENDPOINT,
    allowedIps: [range.cidr, ...(options.clusterCidrs ?? [])],
    ...(options.dns ? { dns: options.dns } : {}),
    checkAlive: gatewayAddress(range),
    tunnels,
  });
  // Example values, not placeholders: the output must pass `wireproxy -n` as it stands.
  const header = [
    "# anex tunnel config: what this pod's agent would get, with EXAMPLE values where the real",
    '# ones only exist at bootstrap. Checked by `wireproxy -n -c <this file>`.',
    '#   PrivateKey  example, made for this preview (the agent makes its own at start; it never leaves the machine)',
    "#   PublicKey   example (the gateway's public key of your installation)",
    `#   Address     example ${PLACEHOLDER_ADDRESS} (the pod's VPN address, allocated at bootstrap)`,
    ...(wstunnel || options.gatewayEndpoint
      ? []
      : [`#   Endpoint    example ${PLACEHOLDER_ENDPOINT} (the gateway's UDP endpoint; --gateway-endpoint)`]),
    '',
  ].join('\n');
  config = `${header}${config}`;
  return {
    provider,
    transport,
    tunnels,
    wireproxyConfig: config,
    ...(wstunnel
      ? {
          wstunnelCommand: formatWstunnelCommand(wstunnel).replace(
            'wss://gateway.invalid',
            '<gateway wss:// URL>',
          ),
        }
      : {}),
  };
}
