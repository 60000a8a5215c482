import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../../errors.ts';
import { DEFAULT_FORWARDER_SERVICE_ACCOUNT, FORWARDER_APP } from '../../reconcile/forwarders.ts';
import { gatewayAddress, parseVpnRange } from '../addresses.ts';
import { DEFAULT_WG_PORT } from './render.ts';

/**
 * The cluster gateway as Kubernetes objects (Deployment + Services + ConfigMap +
 * NetworkPolicy, the ServiceAccount and RBAC of its kubelet API, ADR 0023, and what forwarder
 * pods need, ADR 0024), for
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
   * A ceiling on every peer's rules (Service CIDR, Pod CIDR): no peer reaches beyond these
   * ranges and the cluster DNS, whatever its pod declares. Unset: no ceiling; each peer still
   * reaches only what its pod declared (ADR 0020).
   */
  allowedCidrs?: readonly string[];
  /** cluster DNS addresses peers may query; unset: the gateway pod's own nameservers */
  clusterDns?: readonly string[];
  /**
   * The API server's addresses (its endpoints, e.g. the control plane's IPs); the `kubernetes`
   * Service's ClusterIP is refused too (the gateway reads it from its environment).
   */
  apiServerCidrs?: readonly string[];
  /** the nodes' networks, refused to every peer unless `allow` lists `nodes` */
  nodeCidrs?: readonly string[];
  /**
   * Opt-ins (each refused by default, even when a pod's own rules would reach it): `api-server`,
   * `nodes`, `metadata` (cloud metadata addresses, which hold the node's credentials).
   */
  allow?: readonly GatewayOptIn[];
  /** @default 'LoadBalancer' (some cloud LBs lack UDP: use NodePort there) */
  udpServiceType?: 'LoadBalancer' | 'NodePort';
  /**
   * TLS for wstunnel: a kubernetes.io/tls Secret makes wstunnel terminate TLS itself (wss on
   * 8443); without it wstunnel serves ws on 8080 for an Ingress that terminates TLS.
   */
  wstunnelTlsSecretName?: string;
  /** the anex virtual nodes the kubelet API serves @default ['anex-vastai', 'anex-runpod'] */
  nodeNames?: readonly string[];
}

export type KubeObject = Record<string, unknown> & { apiVersion: string; kind: string };

export const GATEWAY_OPT_INS = ['api-server', 'nodes', 'metadata'] as const;
export type GatewayOptIn = (typeof GATEWAY_OPT_INS)[number];

/** Cloud metadata addresses: link-local (AWS, GCP, Azure IMDS), Alibaba, Azure WireServer. */
export const METADATA_CIDRS = ['169.254.0.0/16', '100.100.100.200/32', '168.63.129.16/32'] as const;

const SCRIPT_URL = new URL('./gateway.sh', import.meta.url);

/** Where lib/tunnel/gateway/image/Dockerfile installs anex-kubelet (ADR 0023). */
export const GATEWAY_KUBELET_BINARY = '/usr/local/bin/anex-kubelet';

/** The kubelet API's port, as every kubelet's (the nodes advertise it). */
export const KUBELET_PORT = 10250;

/**
 * What anex-kubelet reads itself (lib/tunnel/gateway/kubelet): the pod a request names (its
 * node and UID) and the pods of the anex nodes (/runningpods, /stats). Pods of anex nodes live
 * in any namespace, so cluster-wide; nothing is written. Authentication and authorisation of
 * its callers go through the built-in `system:auth-delegator` (TokenReview,
 * SubjectAccessReview) and `extension-apiserver-authentication-reader` (the client CA).
 */
export const KUBELET_RULES: readonly { apiGroups: string[]; resources: string[]; verbs: string[] }[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
];

/**
 * The ClusterIP Service in front of the kubelet container: forwarder pods (ADR 0024) dial
 * https://anex-kubelet.<namespace>.svc:10250 (lib/config's default ANEX_FORWARDER_KUBELET_URL).
 */
export const KUBELET_SERVICE = 'anex-kubelet';

/** Where the kubelet container finds its ServiceAccount token (client-go's in-cluster path). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

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
    networkPolicy(o, labels, meta(o.name)),
    ...kubeletRbac(o, labels),
    ...forwarderObjects(o, labels),
  ];
}

/**
 * What forwarder pods (ADR 0024) need beside the gateway: their ServiceAccount, which has no
 * RBAC at all (its projected token only proves to anex-kubelet which forwarder calls), the
 * kubelet container's ClusterIP Service they dial, and their NetworkPolicy: in, anything (they
 * are Services' endpoints, listening on their pod's declared ports only); out, DNS and the
 * gateway pod's kubelet port only.
 */
function forwarderObjects(o: Resolved, gatewayLabels: Record<string, string>): KubeObject[] {
  const labels = { 'app.kubernetes.io/name': FORWARDER_APP, 'app.kubernetes.io/part-of': 'anex' };
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: DEFAULT_FORWARDER_SERVICE_ACCOUNT, namespace: o.namespace, labels },
      automountServiceAccountToken: false,
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: KUBELET_SERVICE, namespace: o.namespace, labels: gatewayLabels },
      spec: {
        type: 'ClusterIP',
        selector: gatewayLabels,
        ports: [{ name: 'kubelet', protocol: 'TCP', port: KUBELET_PORT, targetPort: 'kubelet' }],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: FORWARDER_APP, namespace: o.namespace, labels },
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/name': FORWARDER_APP } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{}],
        egress: [
          {
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
          {
            to: [{ podSelector: { matchLabels: gatewayLabels } }],
            ports: [{ protocol: 'TCP', port: KUBELET_PORT }],
          },
        ],
      },
    },
  ];
}

/**
 * The gateway's ServiceAccount and what its kubelet API may do (ADR 0023 §2): delegate
 * authentication and authorisation (TokenReview, SubjectAccessReview), read the client CA in
 * kube-system, read pods. Only the `kubelet` container gets the token (a projected volume);
 * the WireGuard and wstunnel containers, which face the tunnel and the internet, get none.
 */
function kubeletRbac(o: Resolved, labels: Record<string, string>): KubeObject[] {
  const subjects = [{ kind: 'ServiceAccount', name: o.name, namespace: o.namespace }];
  const rbac = 'rbac.authorization.k8s.io';
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: o.name, namespace: o.namespace, labels },
      automountServiceAccountToken: false,
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRole',
      metadata: { name: `${o.name}-kubelet`, labels },
      rules: KUBELET_RULES.map((r) => ({ ...r })),
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: `${o.name}-kubelet`, labels },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: `${o.name}-kubelet` },
      subjects,
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: `${o.name}-auth-delegator`, labels },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects,
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'RoleBinding',
      metadata: { name: `${o.name}-authentication-reader`, namespace: 'kube-system', labels },
      roleRef: { apiGroup: rbac, kind: 'Role', name: 'extension-apiserver-authentication-reader' },
      subjects,
    },
  ];
}

/**
 * The gateway pod's NetworkPolicy, a second fence behind its own per-peer rules: in, only the
 * WireGuard and wstunnel ports; out, DNS and anything but the protected ranges (metadata, the
 * API server and node networks unless opted in). Peers' traffic leaves with the pod's address
 * (SNAT), so this binds every peer at once.
 */
function networkPolicy(
  o: Resolved,
  labels: Record<string, string>,
  metadata: Record<string, unknown>,
): KubeObject {
  const except = protectedCidrs(o);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata,
    spec: {
      podSelector: { matchLabels: labels },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          ports: [
            { protocol: 'UDP', port: o.listenPort },
            { protocol: 'TCP', port: o.wstunnelTlsSecretName ? 8443 : 8080 },
            // the kubelet API: the API server dials it for logs, exec and port-forward (ADR
            // 0023), forwarder pods for Services' connections (ADR 0024); open to every source,
            // as the API server's address is not known here
            { protocol: 'TCP', port: KUBELET_PORT },
          ],
        },
      ],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        ...apiServerEgress(o),
        // Pods by selector (some network plugins match in-cluster endpoints only that way),
        // everything else by address but the protected ranges.
        { to: [{ namespaceSelector: {} }] },
        { to: [{ ipBlock: { cidr: '0.0.0.0/0', ...(except.length > 0 ? { except } : {}) } }] },
      ],
    },
  };
}

/**
 * The kubelet container calls the API server (TokenReview, SubjectAccessReview, pods): its
 * HTTPS ports on the API server's addresses, which the rule below otherwise excepts. The
 * NetworkPolicy is per pod, so this also lets SNATed peer traffic through this fence; the
 * first fence, gateway.sh's FORWARD rules, still refuses the API server to every peer unless
 * `api-server` is opted in (ADR 0020).
 */
function apiServerEgress(o: Resolved): Record<string, unknown>[] {
  if (o.apiServerCidrs.length === 0 || o.allow.includes('api-server')) return [];
  return [
    {
      to: o.apiServerCidrs.map((cidr) => ({ ipBlock: { cidr } })),
      ports: [
        { protocol: 'TCP', port: 443 },
        { protocol: 'TCP', port: 6443 },
      ],
    },
  ];
}

function protectedCidrs(o: Resolved): string[] {
  return [
    ...(o.allow.includes('metadata') ? [] : METADATA_CIDRS),
    ...(o.allow.includes('api-server') ? [] : o.apiServerCidrs),
    ...(o.allow.includes('nodes') ? [] : o.nodeCidrs),
  ];
}

type Resolved = Required<
  Omit<GatewayManifestOptions, 'wstunnelTlsSecretName' | 'allowedCidrs' | 'nodeNames'>
> &
  Pick<GatewayManifestOptions, 'wstunnelTlsSecretName'> & {
    gatewayAddress: string;
    allowedCidrs: readonly string[];
    nodeNames: readonly string[];
  };

const CIDR_TEXT = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const IPV4_TEXT = /^\d{1,3}(\.\d{1,3}){3}$/;

function withDefaults(options: GatewayManifestOptions): Resolved {
  const range = parseVpnRange(options.vpnCidr);
  const issues: string[] = [];
  // The gateway's peer list and its bearer token must never travel in clear (and a
  // man-in-the-middle must not inject peers): https only, as gateway.sh itself insists.
  if (!/^https:\/\/[^\s/]+(\/[^\s]*)?$/.test(options.agentEndpointUrl)) {
    issues.push(
      `agent endpoint URL ${JSON.stringify(options.agentEndpointUrl)} must be an https:// URL (the gateway sends its peers token to it)`,
    );
  }
  const ranges = [
    ['allowed CIDR', options.allowedCidrs],
    ['API server CIDR', options.apiServerCidrs],
    ['node CIDR', options.nodeCidrs],
  ] as const;
  for (const [what, list] of ranges) {
    for (const c of list ?? []) {
      if (!CIDR_TEXT.test(c))
        issues.push(`${what} ${JSON.stringify(c)} is not an IPv4 CIDR (e.g. 10.96.0.0/12)`);
    }
  }
  for (const d of options.clusterDns ?? []) {
    if (!IPV4_TEXT.test(d))
      issues.push(`cluster DNS ${JSON.stringify(d)} is not an IPv4 address (e.g. 10.96.0.10)`);
  }
  for (const a of options.allow ?? []) {
    if (!(GATEWAY_OPT_INS as readonly string[]).includes(a))
      issues.push(`gateway opt-in ${JSON.stringify(a)} is not one of ${GATEWAY_OPT_INS.join(', ')}`);
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
  return {
    namespace: 'anex-system',
    name: 'anex-gateway',
    listenPort: DEFAULT_WG_PORT,
    mtu: 1380,
    syncIntervalSeconds: 10,
    secretName: 'anex-gateway',
    udpServiceType: 'LoadBalancer',
    allowedCidrs: [],
    clusterDns: [],
    apiServerCidrs: [],
    nodeCidrs: [],
    allow: [],
    nodeNames: ['anex-vastai', 'anex-runpod'],
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
          // The ServiceAccount's token reaches the kubelet container only (kubeletRbac).
          serviceAccountName: o.name,
          automountServiceAccountToken: false,
          // The kubelet container runs as nobody: its volumes are group-readable by this group
          // (0440); the WireGuard key's volume stays 0400, unreadable to it.
          securityContext: { fsGroup: 65534 },
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
          containers: [wireguardContainer(o), wstunnelContainer(o), kubeletContainer(o)],
          volumes: [
            { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
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
            // The kubelet container's: the peers token only (never the WireGuard key) and the token.
            {
              name: 'kubelet-secrets',
              secret: {
                secretName: o.secretName,
                defaultMode: 0o440,
                items: [{ key: 'peers-token', path: 'peers-token' }],
              },
            },
            {
              name: 'kubelet-token',
              projected: {
                defaultMode: 0o440,
                sources: [
                  { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
                  { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                  {
                    downwardAPI: {
                      items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }],
                    },
                  },
                ],
              },
            },
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
    ...(o.clusterDns.length > 0 ? { ANEX_CLUSTER_DNS: o.clusterDns.join(',') } : {}),
    ...(o.apiServerCidrs.length > 0 ? { ANEX_API_SERVER_CIDRS: o.apiServerCidrs.join(',') } : {}),
    ...(o.nodeCidrs.length > 0 ? { ANEX_NODE_CIDRS: o.nodeCidrs.join(',') } : {}),
    ...(o.allow.includes('api-server') ? { ANEX_ALLOW_API_SERVER: 'true' } : {}),
    ...(o.allow.includes('nodes') ? { ANEX_ALLOW_NODES: 'true' } : {}),
    ...(o.allow.includes('metadata') ? { ANEX_ALLOW_METADATA: 'true' } : {}),
  };
  return {
    name: 'wireguard',
    image: o.image,
    command: ['/bin/sh', '/etc/anex/gateway.sh'],
    env: [
      // POD_IP first: $(POD_IP) expands only variables defined before it.
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ...Object.entries(env).map(([name, value]) => ({ name, value })),
      // Sent with each peer sync so the nodes advertise the kubelet API (ADR 0023 §3).
      { name: 'ANEX_KUBELET_ADDRESS', value: `$(POD_IP):${KUBELET_PORT}` },
    ],
    ports: [{ name: 'wireguard', containerPort: o.listenPort, protocol: 'UDP' }],
    securityContext: {
      allowPrivilegeEscalation: false,
      // What the script, wireguard-go (its UAPI socket) and iptables (its lock) write is under
      // /run, an emptyDir; /dev/net/tun goes on the runtime's own /dev.
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'MKNOD'], drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'run', mountPath: '/run' },
      { name: 'script', mountPath: '/etc/anex', readOnly: true },
      { name: 'secrets', mountPath: '/secrets', readOnly: true },
    ],
    resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '256Mi' } },
  };
}

/**
 * anex-kubelet (ADR 0023): the kubelet API of the virtual nodes on :10250 in the gateway's
 * network namespace (where the agents' VPN addresses are reachable), over TLS with a
 * self-signed certificate for the pod IP. It reads the peer list and saved log tails with the
 * gateway's peers token, and the API server with its ServiceAccount token.
 */
function kubeletContainer(o: Resolved): Record<string, unknown> {
  return {
    name: 'kubelet',
    image: o.image,
    command: [GATEWAY_KUBELET_BINARY],
    args: [
      `--agent-url=${o.agentEndpointUrl}`,
      '--peers-token-file=/secrets/peers-token',
      `--node-names=${o.nodeNames.join(',')}`,
      `--listen=:${KUBELET_PORT}`,
      // the only identity whose tokens open /forward/{uid}/{port} (ADR 0024)
      `--forwarder-service-account=${o.namespace}/${DEFAULT_FORWARDER_SERVICE_ACCOUNT}`,
    ],
    env: [
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ],
    ports: [{ name: 'kubelet', containerPort: KUBELET_PORT, protocol: 'TCP' }],
    securityContext: {
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'kubelet-secrets', mountPath: '/secrets', readOnly: true },
      { name: 'kubelet-token', mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
    ],
    resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '128Mi' } },
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
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: tls ? [{ name: 'wstunnel-tls', mountPath: '/tls', readOnly: true }] : [],
    resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '256Mi' } },
  };
}
