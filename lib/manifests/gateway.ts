import { SETTINGS } from '../config/settings.ts';
import {
  type GatewayOptIn,
  gatewayManifests as tunnelGatewayManifests,
} from '../tunnel/gateway/manifests.ts';
import { commonLabels, type KubeObject, type ManifestOptions } from './common.ts';

/** What `anex manifests` needs to render the cluster-side WireGuard gateway (lib/tunnel/gateway). */
export interface GatewayOptions {
  /** image built from lib/tunnel/gateway/image/Dockerfile */
  image: string;
  /** the VPN range (the same as the functions' ANEX_VPN_RANGE) */
  vpnRange: string;
  udpServiceType?: 'LoadBalancer' | 'NodePort';
  wstunnelTlsSecretName?: string;
  /** a ceiling on every peer's rules (Service and Pod CIDRs); each peer reaches only what its pod declared anyway */
  allowedCidrs?: readonly string[];
  /** the nodes' networks, refused to every peer unless opted in */
  nodeCidrs?: readonly string[];
  /** the API server's endpoint addresses, refused to every peer unless opted in */
  apiServerCidrs?: readonly string[];
  /** cluster DNS addresses; unset: the gateway pod's own nameservers */
  clusterDns?: readonly string[];
  /** opt-ins: let peers' own rules reach the API server, the nodes or cloud metadata */
  allow?: readonly GatewayOptIn[];
}

/** lib/config's default VPN range, so the gateway and the functions agree unless told otherwise. */
export const DEFAULT_VPN_RANGE = SETTINGS.find((s) => s.key === 'vpnRange')?.default ?? '10.99.0.0/16';

/**
 * The gateway objects from lib/tunnel/gateway, with anex's version labels added to each
 * object's own metadata (never to selectors: a Deployment's selector cannot change on
 * upgrade). Needs the agent endpoint and a gateway image; without them it says what is missing.
 */
export function gatewayManifests(options: ManifestOptions & { gateway?: GatewayOptions }): {
  objects: KubeObject[];
  notes: string[];
} {
  if (options.agentUrl === undefined || options.gateway === undefined) {
    const missing = [
      options.agentUrl === undefined ? '--agent-url' : '',
      options.gateway ? '' : '--gateway-image',
    ];
    return {
      objects: [],
      notes: [`no ${missing.filter((m) => m !== '').join(' and ')}: the WireGuard gateway is not included`],
    };
  }
  const { gateway } = options;
  const rendered = tunnelGatewayManifests({
    namespace: options.namespace,
    image: gateway.image,
    agentEndpointUrl: options.agentUrl,
    vpnCidr: gateway.vpnRange,
    nodeNames: options.nodeNames,
    ...(gateway.udpServiceType === undefined ? {} : { udpServiceType: gateway.udpServiceType }),
    ...(gateway.wstunnelTlsSecretName === undefined
      ? {}
      : { wstunnelTlsSecretName: gateway.wstunnelTlsSecretName }),
    ...(gateway.allowedCidrs === undefined ? {} : { allowedCidrs: gateway.allowedCidrs }),
    ...(gateway.nodeCidrs === undefined ? {} : { nodeCidrs: gateway.nodeCidrs }),
    ...(gateway.apiServerCidrs === undefined ? {} : { apiServerCidrs: gateway.apiServerCidrs }),
    ...(gateway.clusterDns === undefined ? {} : { clusterDns: gateway.clusterDns }),
    ...(gateway.allow === undefined ? {} : { allow: gateway.allow }),
  });
  const objects = rendered.map((object) => {
    const { metadata, ...rest } = object as unknown as KubeObject;
    return {
      ...rest,
      metadata: { ...metadata, labels: { ...commonLabels(options, 'gateway'), ...metadata.labels } },
    };
  });
  return {
    objects: objects as KubeObject[],
    notes: [
      `the gateway needs its Secret in ${options.namespace} before it starts (see lib/tunnel/gateway/manifests.ts)`,
    ],
  };
}
