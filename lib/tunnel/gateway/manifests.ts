import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../../errors.ts';
import { gatewayAddress, parseVpnRange } from '../addresses.ts';
import { DEFAULT_WG_PORT } from './render.ts';

/**
 * The cluster gateway as Kubernetes objects (Deployment + Services + ConfigMap), for
 * `anex manifests`. Secrets are referenced, never rendered: create them with
 *   kubectl -n <ns> create secret generic <secretName> \
 *     --from-file=wg-private-key=<file> --from-literal=peers-token=<token> \
 *     --from-literal=wstunnel-path-prefix=<secret>
 * (the agent endpoint is configured with the gateway's public key and the token's SHA-256).
 */
export interface GatewayManifestOptions {
  /** @default 'anex-system' */
  namespace?: string;
  /** @default 'anex-gateway' */
  name?: string;
  /**
   * image built from lib/tunnel/gateway/image/Dockerfile: WireGuard tools for the `wireguard`
   * container and anex's wstunnel (the agents' own build, ADR 0009) for the `wstunnel` one
   */
  image: string;
  /** agent endpoint base URL the gateway polls for its peers */
  agentEndpointUrl: string;
  vpnCidr: string;
  /** @default 51820 */
  listenPort?: number;
  /** @default 1380 */
  mtu?: number;
  /** @default 10 */
  syncIntervalSeconds?: number;
  /** @default 'anex-gateway' */
  secretName?: string;
  /**
   * Ranges agents may reach through the gateway (Service CIDR, Pod CIDR). Unset: anything
   * but link-local addresses (169.254.0.0/16, the cloud metadata service, is always refused).
   */
  allowedCidrs?: readonly string[];
  /** @default 'LoadBalancer' (some cloud LBs lack UDP: use NodePort there) */
  udpServiceType?: 'LoadBalancer' | 'NodePort';
  /**
   * TLS for wstunnel: a kubernetes.io/tls Secret makes wstunnel terminate TLS itself (wss on
   * 8443); without it wstunnel serves ws on 8080 for an Ingress that terminates TLS.
   */
  wstunnelTlsSecretName?: string;
}

export type KubeObject = Record<string, unknown> & { apiVersion: string; kind: string };

const SCRIPT_URL = new URL('./gateway.sh', import.meta.url);

export function gatewayScript(): string {
  return readFileSync(SCRIPT_URL, 'utf8');
}

export function gatewayManifests(options: GatewayManifestOptions): KubeObject[] {
  const o = withDefaults(options);
  const labels = { 'app.kubernetes.io/name': o.name, 'app.kubernetes.io/part-of': 'anex' };
  const meta = (name: string) => ({ name, namespace: o.namespace, labels });
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(o.name), data: { 'gateway.sh': gatewayScript() } },
    deployment(o, labels, meta(o.name)),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`${o.name}-udp`),
      spec: {
        type: o.udpServiceType,
        // One replica and Local traffic: each peer always reaches the same WireGuard instance.
        externalTrafficPolicy: 'Local',
        selector: labels,
        ports: [{ name: 'wireguard', protocol: 'UDP', port: o.listenPort, targetPort: o.listenPort }],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`${o.name}-wss`),
      spec: {
        type: o.wstunnelTlsSecretName ? 'LoadBalancer' : 'ClusterIP',
        selector: labels,
        ports: [
          {
            name: 'wstunnel',
            protocol: 'TCP',
            port: o.wstunnelTlsSecretName ? 443 : 8080,
            targetPort: 'wstunnel',
          },
        ],
      },
    },
  ];
}

type Resolved = Required<Omit<GatewayManifestOptions, 'wstunnelTlsSecretName' | 'allowedCidrs'>> &
  Pick<GatewayManifestOptions, 'wstunnelTlsSecretName'> & {
    gatewayAddress: string;
    allowedCidrs: readonly string[];
  };

function withDefaults(options: GatewayManifestOptions): Resolved {
  const range = parseVpnRange(options.vpnCidr);
  if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(options.agentEndpointUrl)) {
    throw new InvalidInputError([
      `agent endpoint URL ${JSON.stringify(options.agentEndpointUrl)} must be an http(s) URL`,
    ]);
  }
  const badCidrs = (options.allowedCidrs ?? []).filter((c) => !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c));
  if (badCidrs.length > 0) {
    throw new InvalidInputError(
      badCidrs.map((c) => `allowed CIDR ${JSON.stringify(c)} is not an IPv4 CIDR (e.g. 10.96.0.0/12)`),
    );
  }
  return {
    namespace: 'anex-system',
    name: 'anex-gateway',
    listenPort: DEFAULT_WG_PORT,
    mtu: 1380,
    syncIntervalSeconds: 10,
    secretName: 'anex-gateway',
    udpServiceType: 'LoadBalancer',
    allowedCidrs: [],
    ...options,
    vpnCidr: range.cidr,
    gatewayAddress: gatewayAddress(range),
  };
}

function deployment(
  o: Resolved,
  labels: Record<string, string>,
  metadata: Record<string, unknown>,
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      replicas: 1,
      // Recreate: two gateways with the same key would fight over every peer's endpoint.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          initContainers: [
            {
              // Forwarding is an unsafe sysctl for the kubelet; setting it in the pod's own
              // network namespace from a short privileged init container avoids a kubelet flag.
              name: 'ip-forward',
              image: o.image,
              command: ['/bin/sh', '-c', 'sysctl -w net.ipv4.ip_forward=1'],
              securityContext: { privileged: true },
            },
          ],
          containers: [wireguardContainer(o), wstunnelContainer(o)],
          volumes: [
            { name: 'script', configMap: { name: o.name, defaultMode: 0o555 } },
            {
              name: 'secrets',
              secret: {
                secretName: o.secretName,
                defaultMode: 0o400,
                items: [
                  { key: 'wg-private-key', path: 'wg-private-key' },
                  { key: 'peers-token', path: 'peers-token' },
                ],
              },
            },
            ...(o.wstunnelTlsSecretName
              ? [{ name: 'wstunnel-tls', secret: { secretName: o.wstunnelTlsSecretName } }]
              : []),
          ],
        },
      },
    },
  };
}

function wireguardContainer(o: Resolved): Record<string, unknown> {
  const env: Record<string, string> = {
    ANEX_AGENT_URL: o.agentEndpointUrl,
    ANEX_VPN_CIDR: o.vpnCidr,
    ANEX_GATEWAY_ADDRESS: o.gatewayAddress,
    ANEX_WG_PORT: String(o.listenPort),
    ANEX_MTU: String(o.mtu),
    ANEX_SYNC_INTERVAL: String(o.syncIntervalSeconds),
    ANEX_SECRETS_DIR: '/secrets',
    ...(o.allowedCidrs.length > 0 ? { ANEX_ALLOWED_CIDRS: o.allowedCidrs.join(',') } : {}),
  };
  return {
    name: 'wireguard',
    image: o.image,
    command: ['/bin/sh', '/etc/anex/gateway.sh'],
    env: Object.entries(env).map(([name, value]) => ({ name, value })),
    ports: [{ name: 'wireguard', containerPort: o.listenPort, protocol: 'UDP' }],
    securityContext: { capabilities: { add: ['NET_ADMIN', 'MKNOD'], drop: ['ALL'] } },
    volumeMounts: [
      { name: 'script', mountPath: '/etc/anex', readOnly: true },
      { name: 'secrets', mountPath: '/secrets', readOnly: true },
    ],
    resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '256Mi' } },
  };
}

/** Where lib/tunnel/gateway/image/Dockerfile installs anex's wstunnel. */
export const GATEWAY_WSTUNNEL_BINARY = '/usr/local/bin/wstunnel';

function wstunnelContainer(o: Resolved): Record<string, unknown> {
  const tls = o.wstunnelTlsSecretName !== undefined;
  const listen = tls ? 'wss://[::]:8443' : 'ws://[::]:8080';
  return {
    name: 'wstunnel',
    // The same build the agents download (lib/tunnel/agent-build/wstunnel), so both ends of
    // the WebSocket run code tested together.
    image: o.image,
    // Only forward tunnels to the WireGuard socket: anex's server refuses to start without
    // --restrict-to, and upstream's would otherwise accept reverse tunnels and any forward.
    command: [
      GATEWAY_WSTUNNEL_BINARY,
      'server',
      '--restrict-to',
      `127.0.0.1:${o.listenPort}`,
      ...(tls ? ['--tls-certificate', '/tls/tls.crt', '--tls-private-key', '/tls/tls.key'] : []),
      listen,
    ],
    env: [
      {
        // The path prefix is the shared secret; from the Secret, never on the command line.
        name: 'WSTUNNEL_RESTRICT_HTTP_UPGRADE_PATH_PREFIX',
        valueFrom: { secretKeyRef: { name: o.secretName, key: 'wstunnel-path-prefix' } },
      },
    ],
    ports: [{ name: 'wstunnel', containerPort: tls ? 8443 : 8080, protocol: 'TCP' }],
    securityContext: {
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      // The gateway image's default user is root (the wireguard container needs it); nobody here.
      runAsUser: 65534,
      runAsGroup: 65534,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: tls ? [{ name: 'wstunnel-tls', mountPath: '/tls', readOnly: true }] : [],
    resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '256Mi' } },
  };
}
