import { z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { InvalidInputError } from '../errors.ts';
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
  nodes: z
    .string()
    .optional()
    .transform((v) =>
      v
        ?.split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    )
    .refine((v) => v === undefined || v.length > 0, 'lists no node name')
    .refine(
      (v) => v === undefined || v.every((n) => dnsSubdomain.test(n)),
      'has a name that is not a valid node name',
    ),
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
});

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
  const { webhookUrl, agentUrl, namespace, nodes, output, gatewayImage } = parsed.data;
  const { vpnRange, gatewayUdpService, wstunnelTlsSecret } = parsed.data;
  const gateway: GatewayOptions | undefined =
    gatewayImage === undefined
      ? undefined
      : {
          image: gatewayImage,
          vpnRange: vpnRange ?? DEFAULT_VPN_RANGE,
          ...(gatewayUdpService === undefined ? {} : { udpServiceType: gatewayUdpService }),
          ...(wstunnelTlsSecret === undefined ? {} : { wstunnelTlsSecretName: wstunnelTlsSecret }),
        };
  return {
    format: output ?? 'yaml',
    options: {
      version: packageJson.version,
      namespace: namespace ?? MANIFEST_DEFAULTS.namespace,
      nodeNames: nodes ?? MANIFEST_DEFAULTS.nodeNames,
      ...(webhookUrl === undefined ? {} : { webhookUrl }),
      ...(agentUrl === undefined ? {} : { agentUrl }),
      ...(gateway === undefined ? {} : { gateway }),
    },
  };
}
