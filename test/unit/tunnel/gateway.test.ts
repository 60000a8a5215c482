import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type ManifestFlags, parseManifestFlags } from '../../../lib/manifests/options.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import {
  GATEWAY_WSTUNNEL_BINARY,
  type GatewayManifestOptions,
  gatewayManifests,
  gatewayScript,
  type KubeObject,
} from '../../../lib/tunnel/gateway/manifests.ts';
import { desiredPeers, renderPeerSections } from '../../../lib/tunnel/gateway/peers.ts';
import { renderWgSyncConfig } from '../../../lib/tunnel/gateway/render.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';

const range = parseVpnRange('10.250.0.0/16');

describe('desiredPeers', () => {
  it('keeps bootstrapped allocations in the range, once per key, ordered by address', () => {
    const [a, b, gateway] = [wgKeyPair().publicKey, wgKeyPair().publicKey, wgKeyPair().publicKey];
    const peers = desiredPeers(
      [
        {
          address: '10.250.1.10',
          podUid: 'p1',
          publicKey: a ?? '',
          egress: ['web.ml.svc:80', '10.1.0.0/16:443', 'x -j ACCEPT:1'],
          allocatedAt: 0,
        },
        { address: '10.250.3.3', podUid: 'p7', publicKey: gateway, allocatedAt: 0 }, // the gateway's own key
        { address: '10.250.0.9', podUid: 'p2', publicKey: b ?? '', allocatedAt: 0 },
        { address: '10.250.0.3', podUid: 'p3', allocatedAt: 0 }, // not bootstrapped yet
        { address: '10.99.0.2', podUid: 'p4', publicKey: wgKeyPair().publicKey, allocatedAt: 0 }, // other range
        { address: '10.250.2.2', podUid: 'p5', publicKey: a ?? '', allocatedAt: 0 }, // same key again
        { address: '10.250.2.3', podUid: 'p6', publicKey: 'garbage', allocatedAt: 0 },
      ],
      range,
      gateway,
    );
    expect(peers).toEqual([
      { publicKey: b, address: '10.250.0.9', podUid: 'p2', allow: [] },
      // a stored destination the gateway script could not take as arguments is never served
      { publicKey: a, address: '10.250.1.10', podUid: 'p1', allow: ['web.ml.svc:80', '10.1.0.0/16:443'] },
    ]);
  });

  it('renders wg peer sections without endpoints, each with its allowed destinations, and a full syncconf file', () => {
    const peer = { publicKey: wgKeyPair().publicKey, address: '10.250.0.2', podUid: 'p', allow: [] };
    const other = { ...peer, address: '10.250.0.3', allow: ['web.ml.svc:80', '10.1.0.0/16:443'] };
    expect(renderPeerSections([peer, other])).toBe(
      `[Peer]\nPublicKey = ${peer.publicKey}\nAllowedIPs = 10.250.0.2/32\n\n` +
        `[Peer]\nPublicKey = ${peer.publicKey}\nAllowedIPs = 10.250.0.3/32\n` +
        '# anex-allow web.ml.svc 80\n# anex-allow 10.1.0.0/16 443\n',
    );
    expect(renderPeerSections([])).toBe('');
    const key = wgKeyPair().privateKey;
    expect(renderWgSyncConfig({ privateKey: key, peers: [peer] })).toBe(
      `[Interface]\nPrivateKey = ${key}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${peer.publicKey}\nAllowedIPs = 10.250.0.2/32\n`,
    );
  });
});

function options(overrides: Partial<GatewayManifestOptions> = {}): GatewayManifestOptions {
  return {
    image: 'registry.example/anex-gateway:0.1.0',
    agentEndpointUrl: 'https://agent.example.com',
    vpnCidr: '10.250.0.0/16',
    ...overrides,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the test walks untyped manifest objects
function byKind(objects: KubeObject[], kind: string, name?: string): Record<string, any> {
  const found = objects.find(
    (o) => o.kind === kind && (name === undefined || (o.metadata as { name: string }).name === name),
  );
  if (!found) throw new Error(`no ${kind} ${name ?? ''}`);
  return found;
}

describe('gatewayManifests', () => {
  it('renders a ConfigMap, a one-replica Deployment, UDP + wstunnel Services and a NetworkPolicy', () => {
    const objects = gatewayManifests(options());
    expect(objects.map((o) => `${o.kind}/${(o.metadata as { name: string }).name}`)).toEqual([
      'ConfigMap/anex-gateway',
      'Deployment/anex-gateway',
      'Service/anex-gateway-udp',
      'Service/anex-gateway-wss',
      'NetworkPolicy/anex-gateway',
      'ServiceAccount/anex-gateway',
      'ClusterRole/anex-gateway-kubelet',
      'ClusterRoleBinding/anex-gateway-kubelet',
      'ClusterRoleBinding/anex-gateway-auth-delegator',
      'RoleBinding/anex-gateway-authentication-reader',
      'ServiceAccount/anex-forwarder',
      'Service/anex-kubelet',
      'NetworkPolicy/anex-forwarder',
    ]);
    const namespaced = objects.filter((o) => !o.kind.startsWith('Cluster') && o.kind !== 'RoleBinding');
    expect(namespaced.every((o) => (o.metadata as { namespace: string }).namespace === 'anex-system')).toBe(
      true,
    );
    expect(byKind(objects, 'ConfigMap').data['gateway.sh']).toBe(gatewayScript());
    const deployment = byKind(objects, 'Deployment');
    expect(deployment.spec.replicas).toBe(1);
    const [wg, ws] = deployment.spec.template.spec.containers;
    expect(wg.securityContext.capabilities.add).toContain('NET_ADMIN');
    expect(wg.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    });
    expect(wg.volumeMounts).toContainEqual({ name: 'run', mountPath: '/run' });
    expect(ws.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
    expect(wg.env).toContainEqual({ name: 'ANEX_GATEWAY_ADDRESS', value: '10.250.0.1' });
    expect(wg.env).toContainEqual({ name: 'ANEX_AGENT_URL', value: 'https://agent.example.com' });
    // anex's wstunnel from the gateway image, the build the agents download, never as root
    expect(ws.image).toBe(wg.image);
    expect(ws.command).toEqual([
      '/usr/local/bin/wstunnel',
      'server',
      '--restrict-to',
      '127.0.0.1:51820',
      'ws://[::]:8080',
    ]);
    expect(ws.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
    expect(ws.env[0].valueFrom.secretKeyRef).toEqual({ name: 'anex-gateway', key: 'wstunnel-path-prefix' });
    const udp = byKind(objects, 'Service', 'anex-gateway-udp');
    expect(udp.spec).toMatchObject({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      ports: [{ protocol: 'UDP', port: 51820 }],
    });
  });

  it('runs the kubelet API beside WireGuard: nobody, read-only, the peers token and its own ServiceAccount token only (ADR 0023)', () => {
    const objects = gatewayManifests(options({ nodeNames: ['anex-vastai'] }));
    const pod = byKind(objects, 'Deployment').spec.template.spec;
    expect(pod.containers.map((c: { name: string }) => c.name)).toEqual(['wireguard', 'wstunnel', 'kubelet']);
    expect(pod).toMatchObject({
      serviceAccountName: 'anex-gateway',
      automountServiceAccountToken: false,
      securityContext: { fsGroup: 65534 },
    });
    const [wg, ws, kubelet] = pod.containers;
    expect(kubelet).toMatchObject({
      image: wg.image,
      command: ['/usr/local/bin/anex-kubelet'],
      args: [
        '--agent-url=https://agent.example.com',
        '--peers-token-file=/secrets/peers-token',
        '--node-names=anex-vastai',
        '--listen=:10250',
        '--forwarder-service-account=anex-system/anex-forwarder',
      ],
      env: [
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ],
      ports: [{ name: 'kubelet', containerPort: 10250, protocol: 'TCP' }],
      securityContext: {
        allowPrivilegeEscalation: false,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
      resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    });
    // Only the kubelet container gets the ServiceAccount token, and never the WireGuard key.
    const mounts = (c: { volumeMounts: { name: string }[] }) => c.volumeMounts.map((m) => m.name);
    expect(mounts(kubelet)).toEqual(['kubelet-secrets', 'kubelet-token']);
    expect([...mounts(wg), ...mounts(ws)]).not.toContain('kubelet-token');
    const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name);
    expect(volume('kubelet-secrets').secret.items).toEqual([{ key: 'peers-token', path: 'peers-token' }]);
    expect(volume('secrets').secret.defaultMode).toBe(0o400);
    expect(volume('kubelet-token').projected.sources[0]).toEqual({
      serviceAccountToken: { path: 'token', expirationSeconds: 3600 },
    });
    // WireGuard's peer sync tells the endpoint where the kubelet API listens (POD_IP defined first).
    const names = wg.env.map((e: { name: string }) => e.name);
    expect(names.indexOf('POD_IP')).toBeLessThan(names.indexOf('ANEX_KUBELET_ADDRESS'));
    expect(wg.env).toContainEqual({ name: 'ANEX_KUBELET_ADDRESS', value: '$(POD_IP):10250' });
  });

  it('gives the gateway ServiceAccount delegated auth, the client-CA reader and pod reads, nothing else', () => {
    const objects = gatewayManifests(options());
    const subjects = [{ kind: 'ServiceAccount', name: 'anex-gateway', namespace: 'anex-system' }];
    const bindings = objects
      .filter((o) => o.kind.endsWith('Binding'))
      .map((o) => ({
        kind: o.kind,
        namespace: (o.metadata as { namespace?: string }).namespace,
        role: (o.roleRef as { kind: string; name: string }).name,
        subjects: o.subjects,
      }));
    expect(bindings).toEqual([
      { kind: 'ClusterRoleBinding', namespace: undefined, role: 'anex-gateway-kubelet', subjects },
      { kind: 'ClusterRoleBinding', namespace: undefined, role: 'system:auth-delegator', subjects },
      {
        kind: 'RoleBinding',
        namespace: 'kube-system',
        role: 'extension-apiserver-authentication-reader',
        subjects,
      },
    ]);
    expect(byKind(objects, 'ClusterRole').rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
    ]);
  });

  it('runs wstunnel where the gateway Dockerfile installs it, built from the agents’ source', () => {
    const dockerfile = readFileSync(
      new URL('../../../lib/tunnel/gateway/image/Dockerfile', import.meta.url),
      'utf8',
    );
    expect(dockerfile).toContain(`COPY --from=wstunnel /out/wstunnel ${GATEWAY_WSTUNNEL_BINARY}`);
    expect(dockerfile).toContain('COPY lib/tunnel/agent-build/ ./');
    expect(dockerfile).toMatch(/go build .* -o \/out\/wstunnel \.\/wstunnel/);
  });

  it('lets wstunnel terminate TLS when given a certificate Secret', () => {
    const objects = gatewayManifests(
      options({ wstunnelTlsSecretName: 'gw-tls', listenPort: 51999, namespace: 'gpu' }),
    );
    const ws = byKind(objects, 'Deployment').spec.template.spec.containers[1];
    expect(ws.command).toEqual([
      '/usr/local/bin/wstunnel',
      'server',
      '--restrict-to',
      '127.0.0.1:51999',
      '--tls-certificate',
      '/tls/tls.crt',
      '--tls-private-key',
      '/tls/tls.key',
      'wss://[::]:8443',
    ]);
    expect(byKind(objects, 'Service', 'anex-gateway-wss').spec).toMatchObject({
      type: 'LoadBalancer',
      ports: [{ port: 443 }],
    });
  });

  it('passes the egress allow-list to the gateway script and refuses a malformed range', () => {
    const wg = byKind(
      gatewayManifests(options({ allowedCidrs: ['10.96.0.0/12', '10.244.0.0/16'] })),
      'Deployment',
    ).spec.template.spec.containers[0];
    expect(wg.env).toContainEqual({ name: 'ANEX_ALLOWED_CIDRS', value: '10.96.0.0/12,10.244.0.0/16' });
    const open = byKind(gatewayManifests(options()), 'Deployment').spec.template.spec.containers[0];
    expect(open.env.map((e: { name: string }) => e.name)).not.toContain('ANEX_ALLOWED_CIDRS');
    expect(() => gatewayManifests(options({ allowedCidrs: ['10.96.0.0'] }))).toThrow(
      'allowed CIDR "10.96.0.0" is not an IPv4 CIDR',
    );
  });

  it('gives forwarder pods a ServiceAccount without RBAC, the anex-kubelet Service and their own fence (ADR 0024)', () => {
    const objects = gatewayManifests(options());
    const account = byKind(objects, 'ServiceAccount', 'anex-forwarder');
    expect(account).toMatchObject({
      metadata: { namespace: 'anex-system', labels: { 'app.kubernetes.io/name': 'anex-forwarder' } },
      automountServiceAccountToken: false,
    });
    // No binding names it: its token proves who calls anex-kubelet and may do nothing else.
    const subjects = objects.flatMap((o) => (o.subjects as { name: string }[] | undefined) ?? []);
    expect(subjects.map((s) => s.name)).not.toContain('anex-forwarder');
    const gatewayLabels = byKind(objects, 'Deployment').spec.template.metadata.labels;
    expect(byKind(objects, 'Service', 'anex-kubelet').spec).toEqual({
      type: 'ClusterIP',
      selector: gatewayLabels,
      ports: [{ name: 'kubelet', protocol: 'TCP', port: 10250, targetPort: 'kubelet' }],
    });
    const fence = byKind(objects, 'NetworkPolicy', 'anex-forwarder');
    expect(fence.metadata.namespace).toBe('anex-system');
    expect(fence.spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'anex-forwarder' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{}],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        { to: [{ podSelector: { matchLabels: gatewayLabels } }], ports: [{ protocol: 'TCP', port: 10250 }] },
      ],
    });
  });

  it('fences the gateway pod with a NetworkPolicy: its two ports in, DNS and all but the protected ranges out', () => {
    const policy = byKind(
      gatewayManifests(options({ nodeCidrs: ['192.168.0.0/16'], apiServerCidrs: ['172.20.0.10/32'] })),
      'NetworkPolicy',
    );
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([
      {
        ports: [
          { protocol: 'UDP', port: 51820 },
          { protocol: 'TCP', port: 8080 },
          { protocol: 'TCP', port: 10250 },
        ],
      },
    ]);
    // the kubelet container's calls to the API server (its HTTPS ports only)
    expect(policy.spec.egress[1]).toEqual({
      to: [{ ipBlock: { cidr: '172.20.0.10/32' } }],
      ports: [
        { protocol: 'TCP', port: 443 },
        { protocol: 'TCP', port: 6443 },
      ],
    });
    expect(policy.spec.egress.at(-1).to[0].ipBlock).toEqual({
      cidr: '0.0.0.0/0',
      except: [
        '169.254.0.0/16',
        '100.100.100.200/32',
        '168.63.129.16/32',
        '172.20.0.10/32',
        '192.168.0.0/16',
      ],
    });
    const open = byKind(
      gatewayManifests(
        options({ nodeCidrs: ['192.168.0.0/16'], allow: ['nodes', 'metadata', 'api-server'] }),
      ),
      'NetworkPolicy',
    );
    expect(open.spec.egress.at(-1).to[0].ipBlock).toEqual({ cidr: '0.0.0.0/0' });
  });

  it('hands the protected ranges, the cluster DNS and the opt-ins to the gateway script', () => {
    const env = (o: Partial<GatewayManifestOptions>) =>
      byKind(gatewayManifests(options(o)), 'Deployment').spec.template.spec.containers[0].env.map(
        (e: { name: string; value: string }) => `${e.name}=${e.value}`,
      );
    expect(
      env({ nodeCidrs: ['192.168.0.0/16'], apiServerCidrs: ['172.20.0.10/32'], clusterDns: ['10.96.0.10'] }),
    ).toEqual(
      expect.arrayContaining([
        'ANEX_NODE_CIDRS=192.168.0.0/16',
        'ANEX_API_SERVER_CIDRS=172.20.0.10/32',
        'ANEX_CLUSTER_DNS=10.96.0.10',
      ]),
    );
    expect(env({}).filter((e: string) => e.startsWith('ANEX_ALLOW_'))).toEqual([]);
    expect(env({ allow: ['api-server', 'nodes', 'metadata'] })).toEqual(
      expect.arrayContaining([
        'ANEX_ALLOW_API_SERVER=true',
        'ANEX_ALLOW_NODES=true',
        'ANEX_ALLOW_METADATA=true',
      ]),
    );
  });

  it('contains no secret values and serialises to YAML', () => {
    const text = stringify(gatewayManifests(options()));
    expect(text).not.toMatch(/[A-Za-z0-9+/]{43}=/);
    expect(text).toContain('secretKeyRef');
  });

  it.each([
    [{ vpnCidr: '10.250.0.1/16' }, 'host bits set'],
    [{ agentEndpointUrl: 'agent.example.com' }, 'must be an https:// URL'],
    [
      { agentEndpointUrl: 'http://agent.example.com' },
      'agent endpoint URL "http://agent.example.com" must be an https:// URL (the gateway sends its peers token to it)',
    ],
    [{ nodeCidrs: ['192.168.0.0'] }, 'node CIDR "192.168.0.0" is not an IPv4 CIDR'],
    [{ apiServerCidrs: ['api'] }, 'API server CIDR "api" is not an IPv4 CIDR'],
    [{ clusterDns: ['10.96.0.10/32'] }, 'cluster DNS "10.96.0.10/32" is not an IPv4 address'],
    [
      { allow: ['everything' as 'nodes'] },
      'gateway opt-in "everything" is not one of api-server, nodes, metadata',
    ],
  ])('rejects %j', (change, message) => {
    expect(() => gatewayManifests(options(change))).toThrow(message);
  });
});

describe('gateway.sh', () => {
  it.each([
    ['https://127.0.0.1:1', 'bogus', 'ANEX_GATEWAY_STEP must be setup, sync-once, loop or all (got bogus)'],
    [
      'http://127.0.0.1:1',
      'sync-once',
      'ANEX_AGENT_URL must be an https:// URL: the peer list and its token never travel in clear',
    ],
  ])('is valid POSIX sh and refuses %s with step %s by name', (url, step, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'anex-gw-'));
    try {
      const path = join(dir, 'gateway.sh');
      writeFileSync(path, gatewayScript());
      execFileSync('sh', ['-n', path]);
      let stderr = '';
      try {
        execFileSync('sh', [path], {
          env: {
            PATH: process.env.PATH,
            ANEX_AGENT_URL: url,
            ANEX_VPN_CIDR: '10.250.0.0/16',
            ANEX_GATEWAY_ADDRESS: '10.250.0.1',
            ANEX_GATEWAY_STEP: step,
            ANEX_STATE_DIR: dir,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        stderr = String((error as { stderr: Buffer }).stderr);
      }
      expect(stderr).toContain(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('anex manifests: the gateway flags of ADR 0020', () => {
  const base = { agentUrl: 'https://agent.lambda-url.eu-west-1.on.aws/', gatewayImage: 'g:1' };
  const issuesOf = (flags: ManifestFlags): string[] => {
    try {
      parseManifestFlags(flags);
      return [];
    } catch (error) {
      return (error as Error).message.split('\n');
    }
  };

  it('passes node and API server networks, the cluster DNS and the opt-ins to the gateway', () => {
    const { gateway } = parseManifestFlags({
      ...base,
      gatewayNodeCidrs: '192.168.0.0/16, 10.0.0.0/24',
      gatewayApiServerCidrs: '172.20.0.10/32',
      gatewayDns: '10.96.0.10',
      gatewayAllow: 'nodes,metadata',
    }).options;
    expect(gateway).toMatchObject({
      nodeCidrs: ['192.168.0.0/16', '10.0.0.0/24'],
      apiServerCidrs: ['172.20.0.10/32'],
      clusterDns: ['10.96.0.10'],
      allow: ['nodes', 'metadata'],
    });
  });

  it.each([
    [
      { gatewayNodeCidrs: '192.168.0.1/16' },
      '--gateway-node-cidrs "192.168.0.1/16" has "192.168.0.1/16", which has host bits set',
    ],
    [
      { gatewayApiServerCidrs: 'api' },
      '--gateway-api-server-cidrs "api" has "api", which is not an IPv4 network',
    ],
    [
      { gatewayDns: '10.96.0.300' },
      '--gateway-dns "10.96.0.300" has a name that is not an IPv4 address such as "10.96.0.10"',
    ],
    [
      { gatewayAllow: 'nodes,everything' },
      '--gateway-allow "nodes,everything" has a name that is not one of api-server, nodes, metadata',
    ],
  ])('exits 2 on %j, naming the flag and the value', (flags, message) => {
    expect(issuesOf({ ...base, ...flags })).toEqual([expect.stringContaining(message)]);
  });

  it('refuses gateway flags without the gateway, naming each', () => {
    expect(issuesOf({ gatewayAllow: 'nodes', gatewayDns: '10.96.0.10' })).toEqual([
      '--gateway-dns "10.96.0.10" configures the gateway: pass --gateway-image and --agent-url too',
      '--gateway-allow "nodes" configures the gateway: pass --gateway-image and --agent-url too',
    ]);
  });
});
