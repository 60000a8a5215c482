import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';
import { parseVpnRange } from '../tunnel/addresses.ts';
import type { TunnelSettings } from '../tunnel/endpoint/types.ts';
import { targetProblem } from '../tunnel/gw-tunnels.ts';
import { isWgKey } from '../tunnel/keys.ts';
import { type BinaryPin, WIREPROXY_PIN, WSTUNNEL_PIN } from '../tunnel/pins.ts';
import type { Secret } from './secrets.ts';
import { SETTINGS, type Setting } from './settings.ts';

/**
 * The tunnel settings: where the in-cluster WireGuard gateway is (docs/tunnel.md) and what
 * agents on rented machines are told. Environment variables of the functions (through
 * `anex:environment`) and of `anex run` in a container; the wstunnel path prefix is a secret
 * and comes from the stack's secret, never from plain env.
 *
 * | variable                    | accepted form                                                   |
 * | --------------------------- | --------------------------------------------------------------- |
 * | ANEX_GATEWAY_PUBLIC_KEY     | the gateway's WireGuard public key (44 base64 characters)        |
 * | ANEX_GATEWAY_UDP_ENDPOINT   | host:port of the gateway's UDP service (providers reached by UDP) |
 * | ANEX_GATEWAY_WSS_URL        | wss://host[:port] (providers without UDP, with the prefix secret) |
 * | ANEX_CLUSTER_CIDRS          | comma list of IPv4 CIDRs routed into the tunnel                  |
 * | ANEX_CLUSTER_DNS            | comma list of IPv4 addresses (cluster DNS)                       |
 * | ANEX_TUNNEL_MTU             | whole number 1280-1500                                           |
 * | ANEX_GATEWAY_TOKEN_SHA256   | lower-case hex SHA-256 of the gateway's token                    |
 * | ANEX_AGENT_BINARIES         | JSON pin override for wireproxy / wstunnel                       |
 * | ANEX_VPN_RANGE              | lib/config/settings.ts                                           |
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

type Key = Exclude<keyof typeof TUNNEL_ENV, 'vpnRange' | 'binaries'>;

const CIDR4 = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const IP4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const list = (item: RegExp) =>
  z.string().transform((text, ctx) => {
    const items = text
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    if (!items.every((v) => item.test(v))) ctx.addIssue({ code: 'custom', message: 'bad item' });
    return items;
  });

/** Each variable's zod schema (from its text) and the form quoted when it is refused. */
const VARIABLES: Readonly<Record<Key, { form: string; schema: z.ZodType<unknown, string> }>> = {
  gatewayPublicKey: {
    form: 'the gateway WireGuard public key (44 base64 characters, from `wg pubkey`)',
    schema: z.string().refine(isWgKey),
  },
  udpEndpoint: {
    form: 'host:port of the gateway UDP service (e.g. "gw.example.com:51820")',
    schema: z.string().refine((v) => targetProblem(v) === undefined || /^[\d.]+:\d+$/.test(v)),
  },
  wstunnelUrl: { form: 'wss://host[:port]', schema: z.string().regex(/^wss:\/\/[^/\s]+\/?$/) },
  clusterCidrs: {
    form: 'a comma list of IPv4 CIDRs (e.g. "10.96.0.0/12,10.244.0.0/16")',
    schema: list(CIDR4),
  },
  dns: { form: 'a comma list of IPv4 addresses (e.g. "10.96.0.10")', schema: list(IP4) },
  mtu: {
    form: 'a whole number from 1280 to 1500',
    schema: z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1280).max(1500)),
  },
  gatewayTokenHash: {
    form: "the lower-case hex SHA-256 of the gateway's token",
    schema: z.string().regex(/^[0-9a-f]{64}$/),
  },
};

const AGENT_ENDPOINT_ENV = (SETTINGS.find((s) => s.key === 'agentEndpointUrl') as Setting).env;

type Env = Readonly<Record<string, string | undefined>>;
type Values = Partial<{
  gatewayPublicKey: string;
  udpEndpoint: string;
  wstunnelUrl: string;
  clusterCidrs: string[];
  dns: string[];
  mtu: number;
  gatewayTokenHash: string;
}>;

function text(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Every set variable parsed; a malformed one named with its value and form in `issues`. */
function parseSet(env: Env, issues: string[]): Values {
  const values: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(VARIABLES) as [Key, (typeof VARIABLES)[Key]][]) {
    const given = text(env, TUNNEL_ENV[key]);
    if (given === undefined) continue;
    const parsed = variable.schema.safeParse(given);
    if (parsed.success) values[key] = parsed.data;
    else issues.push(`${TUNNEL_ENV[key]}=${JSON.stringify(given)}: expected ${variable.form}`);
  }
  return values as Values;
}

function vpnRangeOf(env: Env, issues: string[]): TunnelSettings['vpnRange'] | undefined {
  const setting = SETTINGS.find((s) => s.key === 'vpnRange') as Setting;
  const given = text(env, TUNNEL_ENV.vpnRange) ?? (setting.default as string);
  try {
    return parseVpnRange(given);
  } catch {
    issues.push(`${TUNNEL_ENV.vpnRange}=${JSON.stringify(given)}: expected ${setting.form}`);
    return undefined;
  }
}

/**
 * The agent endpoint's settings, all required parts present (gateway key and UDP endpoint;
 * the wstunnel server with its prefix secret if its URL is set). Every problem is reported at
 * once, naming the variable, its value (never the prefix) and the accepted form.
 */
export function tunnelSettingsFromEnv(env: Env, secrets: { wstunnelPathPrefix?: string }): TunnelSettings {
  const issues: string[] = [];
  const values = parseSet(env, issues);
  for (const key of ['gatewayPublicKey', 'udpEndpoint'] as const) {
    if (text(env, TUNNEL_ENV[key]) === undefined) {
      issues.push(`${TUNNEL_ENV[key]}="": expected ${VARIABLES[key].form}`);
    }
  }
  return assemble(env, values, secrets.wstunnelPathPrefix, issues);
}

function assemble(env: Env, values: Values, prefix: string | undefined, issues: string[]): TunnelSettings {
  if (text(env, TUNNEL_ENV.wstunnelUrl) !== undefined && !prefix) {
    issues.push(
      `${TUNNEL_ENV.wstunnelUrl} is set but the wstunnel path prefix secret is missing (wstunnelPathPrefix in the stack's secret)`,
    );
  }
  const vpnRange = vpnRangeOf(env, issues);
  const binaries = binaryPins(text(env, TUNNEL_ENV.binaries), issues);
  if (issues.length > 0 || vpnRange === undefined) throw new InvalidInputError(issues);
  return {
    vpnRange,
    gatewayPublicKey: values.gatewayPublicKey ?? '',
    udpEndpoint: values.udpEndpoint ?? '',
    ...(values.wstunnelUrl !== undefined && prefix
      ? { wstunnel: { serverUrl: values.wstunnelUrl, pathPrefix: prefix } }
      : {}),
    clusterCidrs: values.clusterCidrs ?? [],
    ...(values.dns === undefined || values.dns.length === 0 ? {} : { dns: values.dns }),
    ...(values.mtu === undefined ? {} : { mtu: values.mtu }),
    binaries,
    ...(values.gatewayTokenHash === undefined ? {} : { gatewayTokenHash: values.gatewayTokenHash }),
  };
}

/** Whether the tunnel is on, and if not, why (for the startup log line). */
export type TunnelMode = { on: true; settings: TunnelSettings } | { on: false; reason: string };

/**
 * The tunnel is on when everything the enabled providers' transports need is set: the
 * gateway's public key, its UDP endpoint if a provider is reached by UDP, its wstunnel URL
 * and the path prefix secret if one is reached over wstunnel, and the agent endpoint URL.
 * Missing parts turn it off (with the list as the reason); a malformed value is an error.
 */
export function tunnelModeFrom(options: {
  env: Env;
  transports: readonly ('udp' | 'wstunnel')[];
  wstunnelPathPrefix: Secret | undefined;
  /** lib/config's agentEndpointUrl; `false` where it is not needed (the agent endpoint itself) */
  agentEndpointUrl: string | undefined | false;
}): TunnelMode {
  const { env, transports } = options;
  const issues: string[] = [];
  const values = parseSet(env, issues);
  const prefix = options.wstunnelPathPrefix?.reveal();
  const needed: [boolean, string][] = [
    [options.agentEndpointUrl === undefined, AGENT_ENDPOINT_ENV],
    [text(env, TUNNEL_ENV.gatewayPublicKey) === undefined, TUNNEL_ENV.gatewayPublicKey],
    [transports.includes('udp') && text(env, TUNNEL_ENV.udpEndpoint) === undefined, TUNNEL_ENV.udpEndpoint],
    [
      transports.includes('wstunnel') && text(env, TUNNEL_ENV.wstunnelUrl) === undefined,
      TUNNEL_ENV.wstunnelUrl,
    ],
    [transports.includes('wstunnel') && !prefix, 'the wstunnelPathPrefix secret'],
  ];
  const missing = needed.filter(([absent]) => absent).map(([, name]) => name);
  if (missing.length > 0) {
    if (issues.length > 0) throw new InvalidInputError(issues);
    return {
      on: false,
      reason: `not configured: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`,
    };
  }
  return { on: true, settings: assemble(env, values, prefix, issues) };
}

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

/**
 * The agent binaries from `ANEX_AGENT_BINARIES` (or the shipped pins when unset), for local
 * mode. @throws InvalidInputError naming the variable when the JSON is malformed.
 */
export function agentBinariesFromEnv(env: Env): TunnelSettings['binaries'] {
  const issues: string[] = [];
  const pins = binaryPins(text(env, TUNNEL_ENV.binaries), issues);
  if (issues.length > 0) throw new InvalidInputError(issues);
  return pins;
}

/**
 * Only the pins the operator named in `ANEX_AGENT_BINARIES` (none when unset), so the caller
 * can supply the others itself — e.g. self-built wireproxy next to an operator's wstunnel.
 * @throws InvalidInputError naming the variable when the JSON is malformed.
 */
export function operatorBinariesFromEnv(env: Env): Partial<TunnelSettings['binaries']> {
  const given = text(env, TUNNEL_ENV.binaries);
  if (given === undefined) return {};
  const pins = agentBinariesFromEnv(env);
  const named = JSON.parse(given) as Record<string, unknown>;
  return {
    ...(named.wireproxy === undefined ? {} : { wireproxy: pins.wireproxy }),
    ...(named.wstunnel === undefined ? {} : { wstunnel: pins.wstunnel }),
  };
}

/** The shipped pins, or an operator's JSON override (e.g. self-hosted builds with checksums). */
function binaryPins(given: string | undefined, issues: string[]): TunnelSettings['binaries'] {
  if (given === undefined) return { wireproxy: WIREPROXY_PIN, wstunnel: WSTUNNEL_PIN };
  let json: unknown;
  try {
    json = JSON.parse(given);
  } catch {
    issues.push(
      `${TUNNEL_ENV.binaries}: not JSON (expected {"wireproxy":{"version","assets":{"amd64":{url,sha256,format},"arm64":{…}}}})`,
    );
    return { wireproxy: WIREPROXY_PIN, wstunnel: WSTUNNEL_PIN };
  }
  const result = binaries.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    issues.push(`${TUNNEL_ENV.binaries}: ${problems.join('; ')}`);
    return { wireproxy: WIREPROXY_PIN, wstunnel: WSTUNNEL_PIN };
  }
  return {
    wireproxy: toPin('wireproxy', result.data.wireproxy, WIREPROXY_PIN),
    wstunnel: toPin('wstunnel', result.data.wstunnel, WSTUNNEL_PIN),
  };
}

function toPin(name: BinaryPin['name'], p: z.infer<typeof pin> | undefined, fallback: BinaryPin): BinaryPin {
  if (p === undefined) return fallback;
  const of = (a: z.infer<typeof asset>) => ({ url: a.url, sha256: a.sha256, format: a.format });
  return {
    name,
    version: p.version,
    source: p.source,
    assets: { amd64: of(p.assets.amd64), arm64: of(p.assets.arm64) },
  };
}
