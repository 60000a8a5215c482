import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
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
    const [a, b] = [wgKeyPair().publicKey, wgKeyPair().publicKey];
    const peers = desiredPeers(
      [
        { address: '10.250.1.10', podUid: 'p1', publicKey: a ?? '', allocatedAt: 0 },
        { address: '10.250.0.9', podUid: 'p2', publicKey: b ?? '', allocatedAt: 0 },
        { address: '10.250.0.3', podUid: 'p3', allocatedAt: 0 }, // not bootstrapped yet
        { address: '10.99.0.2', podUid: 'p4', publicKey: wgKeyPair().publicKey, allocatedAt: 0 }, // other range
        { address: '10.250.2.2', podUid: 'p5', publicKey: a ?? '', allocatedAt: 0 }, // same key again
        { address: '10.250.2.3', podUid: 'p6', publicKey: 'garbage', allocatedAt: 0 },
      ],
      range,
    );
    expect(peers).toEqual([
      { publicKey: b, address: '10.250.0.9', podUid: 'p2' },
      { publicKey: a, address: '10.250.1.10', podUid: 'p1' },
    ]);
  });

  it('renders wg peer sections without endpoints and a full syncconf file', () => {
    const peer = { publicKey: wgKeyPair().publicKey, address: '10.250.0.2', podUid: 'p' };
    expect(renderPeerSections([peer])).toBe(
      `[Peer]\nPublicKey = ${peer.publicKey}\nAllowedIPs = 10.250.0.2/32\n`,
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
  it('renders a ConfigMap, a one-replica Deployment and UDP + wstunnel Services', () => {
    const objects = gatewayManifests(options());
    expect(objects.map((o) => `${o.kind}/${(o.metadata as { name: string }).name}`)).toEqual([
      'ConfigMap/anex-gateway',
      'Deployment/anex-gateway',
      'Service/anex-gateway-udp',
      'Service/anex-gateway-wss',
    ]);
    expect(objects.every((o) => (o.metadata as { namespace: string }).namespace === 'anex-system')).toBe(
      true,
    );
    expect(byKind(objects, 'ConfigMap').data['gateway.sh']).toBe(gatewayScript());
    const deployment = byKind(objects, 'Deployment');
    expect(deployment.spec.replicas).toBe(1);
    const [wg, ws] = deployment.spec.template.spec.containers;
    expect(wg.securityContext.capabilities.add).toContain('NET_ADMIN');
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

  it('contains no secret values and serialises to YAML', () => {
    const text = stringify(gatewayManifests(options()));
    expect(text).not.toMatch(/[A-Za-z0-9+/]{43}=/);
    expect(text).toContain('secretKeyRef');
  });

  it.each([
    [{ vpnCidr: '10.250.0.1/16' }, 'host bits set'],
    [{ agentEndpointUrl: 'agent.example.com' }, 'must be an http(s) URL'],
  ])('rejects %j', (change, message) => {
    expect(() => gatewayManifests(options(change))).toThrow(message);
  });
});

describe('gateway.sh', () => {
  it('is valid POSIX sh and refuses an unknown step by name', () => {
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
            ANEX_AGENT_URL: 'http://127.0.0.1:1',
            ANEX_VPN_CIDR: '10.250.0.0/16',
            ANEX_GATEWAY_ADDRESS: '10.250.0.1',
            ANEX_GATEWAY_STEP: 'bogus',
            ANEX_STATE_DIR: dir,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        stderr = String((error as { stderr: Buffer }).stderr);
      }
      expect(stderr).toContain('ANEX_GATEWAY_STEP must be setup, sync-once, loop or all (got bogus)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
