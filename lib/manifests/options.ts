import { z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { NAMESPACES_FORM, rentNamespaces } from '../config/spend.ts';
import { InvalidInputError } from '../errors.ts';
import { GATEWAY_OPT_INS, type GatewayOptIn } from '../tunnel/gateway/manifests.ts';
import { MANIFEST_DEFAULTS, type ManifestOptions } from './common.ts';
import { DEFAULT_VPN_RANGE, type GatewayOptions } from './gateway.ts';
import type { ManifestFormat } from './render.ts';
import { WEBHOOK_PATH_PREFIX } from './webhook.ts';

/** The flags of `anex manifests`, as commander hands them over. */
export interface ManifestFlags {
  webhookUrl?: string | undefined;
  agentUrl?: string | undefined;
  namespace?: string | undefined;
  nodes?: string | undefined;
  output?: string | undefined;
  gatewayImage?: string | undefined;
  vpnRange?: string | undefined;
  gatewayUdpService?: string | undefined;
  wstunnelTlsSecret?: string | undefined;
  allowedCidrs?: string | undefined;
  gatewayNodeCidrs?: string | undefined;
  gatewayApiServerCidrs?: string | undefined;
  gatewayDns?: string | undefined;
  gatewayAllow?: string | undefined;
  envNamespaces?: string | undefined;
  rentNamespaces?: string | undefined;
  /** a boolean switch (commander gives `true` when present) */
  iamAuth?: boolean | undefined;
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** Kubernetes allows no query or fragment in a webhook URL, and only https. */
function webhookUrlIssue(value: string): string | undefined {
  const url = URL.parse(value);
  if (url === null || url.protocol !== 'https:') return 'is not an https:// URL';
  if (url.search !== '' || url.hash !== '') return 'has a query or fragment, which Kubernetes does not allow';
  if (
    !url.pathname.startsWith(WEBHOOK_PATH_PREFIX) ||
    url.pathname.length <= WEBHOOK_PATH_PREFIX.length + 15
  ) {
    return `does not end in ${WEBHOOK_PATH_PREFIX}<webhookToken> (the token from the stack's secret; docs/deploy.md)`;
  }
  return undefined;
}

/** A comma-separated flag: trimmed names, at least one, each matching `pattern`. */
function commaList(pattern: RegExp, noun: string, bad: string) {
  return z
    .string()
    .optional()
    .transform((v) =>
      v
        ?.split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    )
    .refine((v) => v === undefined || v.length > 0, `lists no ${noun}`)
    .refine((v) => v === undefined || v.every((n) => pattern.test(n)), `has a name that ${bad}`);
}

const flagsSchema = z.object({
  webhookUrl: z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      const issue = value === undefined ? undefined : webhookUrlIssue(value);
      if (issue !== undefined) ctx.addIssue({ code: 'custom', message: issue });
    }),
  agentUrl: z
    .string()
    .optional()
    .refine((v) => v === undefined || URL.parse(v)?.protocol === 'https:', 'is not an https:// URL'),
  namespace: z
    .string()
    .regex(dnsLabel, 'is not a valid namespace name (lowercase letters, digits, "-")')
    .optional(),
  nodes: commaList(dnsSubdomain, 'node name', 'is not a valid node name'),
  envNamespaces: commaList(
    dnsLabel,
    'namespace',
    'is not a valid namespace name (lowercase letters, digits, "-")',
  ),
  rentNamespaces: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '*') return v;
      const parsed = rentNamespaces.safeParse(v);
      if (parsed.success) return parsed.data as readonly string[];
      ctx.addIssue({ code: 'custom', message: `is not ${NAMESPACES_FORM}` });
      return z.NEVER;
    }),
  output: z.enum(['yaml', 'json'], { error: 'must be yaml or json' }).optional(),
  gatewayImage: z
    .string()
    .regex(/^[\w.-]+(:\d+)?(\/[\w.-]+)*(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/, 'is not an image reference')
    .optional(),
  vpnRange: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'is not an IPv4 network such as "10.99.0.0/16"')
    .optional(),
  gatewayUdpService: z
    .enum(['LoadBalancer', 'NodePort'], { error: 'must be LoadBalancer or NodePort' })
    .optional(),
  wstunnelTlsSecret: z.string().regex(dnsSubdomain, 'is not a Secret name').optional(),
  allowedCidrs: cidrList(),
  gatewayNodeCidrs: cidrList(),
  gatewayApiServerCidrs: cidrList(),
  gatewayDns: commaList(
    /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/,
    'address',
    'is not an IPv4 address such as "10.96.0.10"',
  ),
  gatewayAllow: commaList(
    new RegExp(`^(${GATEWAY_OPT_INS.join('|')})$`),
    'opt-in',
    `is not one of ${GATEWAY_OPT_INS.join(', ')}`,
  ).transform((v) => v as GatewayOptIn[] | undefined),
});

/** A comma-separated list of IPv4 networks, each named when it is wrong. */
function cidrList() {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const cidrs = v
        .split(',')
        .map((c) => c.trim())
        .filter((c) => c !== '');
      if (cidrs.length === 0) ctx.addIssue({ code: 'custom', message: 'lists no CIDR' });
      for (const cidr of cidrs) {
        const problem = cidrProblem(cidr);
        if (problem !== undefined)
          ctx.addIssue({ code: 'custom', message: `has ${JSON.stringify(cidr)}, which ${problem}` });
      }
      return cidrs;
    });
}

const CIDR_FORM =
  'an IPv4 network such as "10.96.0.0/12" (the Service CIDR) or "10.244.0.0/16" (the Pod CIDR)';

/** Why `text` is not an IPv4 network the gateway can enforce, or undefined. */
export function cidrProblem(text: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (match === null) return `is not ${CIDR_FORM}`;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return `is not ${CIDR_FORM}`;
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) {
    const network = address - (address % size);
    const dotted = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
    return `has host bits set (did you mean "${dotted}/${prefix}"?)`;
  }
  return undefined;
}

const FLAG_NAMES: Record<string, string> = {
  webhookUrl: '--webhook-url',
  agentUrl: '--agent-url',
  namespace: '--namespace',
  nodes: '--nodes',
  output: '--output',
  gatewayImage: '--gateway-image',
  vpnRange: '--vpn-range',
  gatewayUdpService: '--gateway-udp-service',
  wstunnelTlsSecret: '--wstunnel-tls-secret',
  allowedCidrs: '--allowed-cidrs',
  gatewayNodeCidrs: '--gateway-node-cidrs',
  gatewayApiServerCidrs: '--gateway-api-server-cidrs',
  gatewayDns: '--gateway-dns',
  gatewayAllow: '--gateway-allow',
  envNamespaces: '--env-namespaces',
  rentNamespaces: '--rent-namespaces',
};

/** Validates every flag and reports all problems at once (exit code 2). */
export function parseManifestFlags(flags: ManifestFlags): {
  options: ManifestOptions & { gateway?: GatewayOptions };
  format: ManifestFormat;
} {
  const parsed = flagsSchema.safeParse(flags);
  if (!parsed.success) {
    throw new InvalidInputError(
      parsed.error.issues.map((issue) => {
        const key = String(issue.path[0]);
        return `${FLAG_NAMES[key] ?? key} ${JSON.stringify(flags[key as keyof ManifestFlags])} ${issue.message}`;
      }),
    );
  }
  const { webhookUrl, agentUrl, namespace, nodes, output } = parsed.data;
  const { envNamespaces, rentNamespaces } = parsed.data;
  const iamAuth = flags.iamAuth === true;
  const gateway = gatewayOptions(parsed.data, flags);
  return {
    format: output ?? 'yaml',
    options: {
      version: packageJson.version,
      namespace: namespace ?? MANIFEST_DEFAULTS.namespace,
      nodeNames: nodes ?? MANIFEST_DEFAULTS.nodeNames,
      ...(webhookUrl === undefined ? {} : { webhookUrl }),
      ...(agentUrl === undefined ? {} : { agentUrl }),
      ...(gateway === undefined ? {} : { gateway }),
      ...(envNamespaces === undefined ? {} : { envNamespaces }),
      ...(rentNamespaces === undefined ? {} : { rentNamespaces }),
      ...(iamAuth ? { iamAuth } : {}),
    },
  };
}

/** The gateway's options; the flags that configure it are refused without --gateway-image. */
function gatewayOptions(data: z.infer<typeof flagsSchema>, flags: ManifestFlags): GatewayOptions | undefined {
  const { gatewayImage, vpnRange, gatewayUdpService, wstunnelTlsSecret, allowedCidrs } = data;
  const { gatewayNodeCidrs, gatewayApiServerCidrs, gatewayDns, gatewayAllow } = data;
  if (allowedCidrs !== undefined && gatewayImage === undefined) {
    throw new InvalidInputError([
      `--allowed-cidrs ${JSON.stringify(flags.allowedCidrs)} limits the gateway: pass --gateway-image and --agent-url too`,
    ]);
  }
  const gatewayOnly = (
    ['gatewayNodeCidrs', 'gatewayApiServerCidrs', 'gatewayDns', 'gatewayAllow'] as const
  ).filter((key) => data[key] !== undefined);
  if (gatewayImage === undefined) {
    if (gatewayOnly.length === 0) return undefined;
    throw new InvalidInputError(
      gatewayOnly.map(
        (key) =>
          `${FLAG_NAMES[key]} ${JSON.stringify(flags[key])} configures the gateway: pass --gateway-image and --agent-url too`,
      ),
    );
  }
  return {
    image: gatewayImage,
    vpnRange: vpnRange ?? DEFAULT_VPN_RANGE,
    ...(gatewayUdpService === undefined ? {} : { udpServiceType: gatewayUdpService }),
    ...(wstunnelTlsSecret === undefined ? {} : { wstunnelTlsSecretName: wstunnelTlsSecret }),
    ...(allowedCidrs === undefined ? {} : { allowedCidrs }),
    ...(gatewayNodeCidrs === undefined ? {} : { nodeCidrs: gatewayNodeCidrs }),
    ...(gatewayApiServerCidrs === undefined ? {} : { apiServerCidrs: gatewayApiServerCidrs }),
    ...(gatewayDns === undefined ? {} : { clusterDns: gatewayDns }),
    ...(gatewayAllow === undefined ? {} : { allow: gatewayAllow }),
  };
}
