import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentConfig, buildAgentConfig } from '../../../lib/tunnel/endpoint/agent-config.ts';
import { desiredPeers } from '../../../lib/tunnel/gateway/peers.ts';
import { renderGatewayWireproxyConfig } from '../../../lib/tunnel/gateway/render.ts';
import { wgKeyPair, wgPresharedKey } from '../../../lib/tunnel/keys.ts';
import { previewTunnel } from '../../../lib/tunnel/preview.ts';
import {
  type AgentWireproxyOptions,
  PRIVATE_KEY_PLACEHOLDER,
  renderAgentWireproxyConfig,
} from '../../../lib/tunnel/wireproxy-config.ts';
import { wireproxyBinary, wireproxyConfigTest } from '../../support/agent-build.ts';
import { aLaunch, tunnelSettings } from '../../support/tunnel.ts';

/** Every config shape we render must parse in the real wireproxy (`-n`). */

function agent(overrides: Partial<AgentWireproxyOptions> = {}): AgentWireproxyOptions {
  return {
    address: '10.250.3.17',
    privateKey: wgKeyPair().privateKey,
    gatewayPublicKey: wgKeyPair().publicKey,
    endpoint: '203.0.113.10:51820',
    allowedIps: ['10.250.0.0/16', '10.96.0.0/12'],
    tunnels: [],
    ...overrides,
  };
}

const manyTunnels = Array.from({ length: 40 }, (_, i) => ({
  port: 20000 + i,
  target: `svc-${i}.team-${i % 3}.svc.cluster.local:${8000 + i}`,
}));

const cases: [string, () => string][] = [
  ['minimal (no DNS, no tunnels)', () => renderAgentWireproxyConfig(agent())],
  [
    'with DNS, MTU and CheckAlive',
    () =>
      renderAgentWireproxyConfig(
        agent({ dns: ['10.96.0.10'], mtu: 1280, checkAlive: '10.250.0.1', checkAliveIntervalSeconds: 3 }),
      ),
  ],
  [
    'one tunnel to an FQDN',
    () =>
      renderAgentWireproxyConfig(
        agent({ tunnels: [{ port: 5432, target: 'db.default.svc.cluster.local:5432' }] }),
      ),
  ],
  ['40 tunnels', () => renderAgentWireproxyConfig(agent({ dns: ['10.96.0.10'], tunnels: manyTunnels }))],
  [
    'tunnel targets: IPv4, IPv6, trailing-dot FQDN',
    () =>
      renderAgentWireproxyConfig(
        agent({
          tunnels: [
            { port: 1000, target: '10.96.1.2:80' },
            { port: 1001, target: '[fd00::1]:443' },
            { port: 1002, target: 'api.default.svc.cluster.local.:443' },
          ],
        }),
      ),
  ],
  [
    'preshared key and custom keepalive',
    () => renderAgentWireproxyConfig(agent({ presharedKey: wgPresharedKey(), keepaliveSeconds: 15 })),
  ],
  [
    'RunPod: endpoint is the local wstunnel client',
    () =>
      renderAgentWireproxyConfig(agent({ endpoint: '127.0.0.1:51820', tunnels: manyTunnels.slice(0, 3) })),
  ],
  [
    'endpoint config, UDP transport, endpoint-made key',
    () => {
      const config = buildAgentConfig({
        launch: aLaunch({ env: { GW_TUNNEL_6379: 'redis.default.svc.cluster.local:6379' } }),
        settings: tunnelSettings(),
        address: '10.250.0.9',
        arch: 'amd64',
        privateKey: wgKeyPair().privateKey,
        privateKeySource: 'endpoint',
        statusCredential: 'c',
      });
      return tunnelled(config).wireproxy.config;
    },
  ],
  [
    'endpoint config, wstunnel transport, agent-made key filled in',
    () => {
      const config = buildAgentConfig({
        launch: aLaunch({
          transport: 'wstunnel',
          env: { GW_TUNNEL_8443: 'web.default.svc.cluster.local:443' },
        }),
        settings: tunnelSettings(),
        address: '10.250.0.10',
        arch: 'arm64',
        privateKey: PRIVATE_KEY_PLACEHOLDER,
        privateKeySource: 'agent',
        statusCredential: 'c',
      });
      return tunnelled(config).wireproxy.config.replace(PRIVATE_KEY_PLACEHOLDER, wgKeyPair().privateKey);
    },
  ],
  [
    'gateway (server role) with peers and server tunnels',
    () => {
      const peers = desiredPeers(
        [2, 3, 4].map((i) => ({
          address: `10.250.0.${i}`,
          podUid: `p${i}`,
          publicKey: wgKeyPair().publicKey,
          allocatedAt: 0,
        })),
        tunnelSettings().vpnRange,
      );
      return renderGatewayWireproxyConfig({
        address: '10.250.0.1',
        privateKey: wgKeyPair().privateKey,
        listenPort: 51820,
        peers,
        serverTunnels: [{ listenPort: 8080, target: '127.0.0.1:18080' }],
      });
    },
  ],
  ...(['vastai', 'runpod'] as const).map((provider): [string, () => string] => [
    `\`anex tunnel config\` output for a ${provider} pod (example keys and addresses)`,
    () =>
      previewTunnel({
        spec: {
          nodeSelector: { 'node-provider': provider },
          containers: [{ env: [{ name: 'GW_TUNNEL_5432', value: 'db.default.svc.cluster.local:5432' }] }],
        },
      }).wireproxyConfig,
  ]),
];

let dir: string;

beforeAll(() => {
  wireproxyBinary(); // build (or find) it once, before the table runs
  dir = mkdtempSync(join(tmpdir(), 'anex-wpconf-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('rendered wireproxy configs', () => {
  it.each(cases)('are accepted by wireproxy -n: %s', async (name, render) => {
    const path = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.conf`);
    writeFileSync(path, render(), { mode: 0o600 });
    const result = await wireproxyConfigTest(path);
    expect(result.output).toContain('Config OK');
    expect(result.ok).toBe(true);
  });

  it('are rejected when the agent leaves the key placeholder in (the check has teeth)', async () => {
    const path = join(dir, 'placeholder.conf');
    writeFileSync(path, renderAgentWireproxyConfig(agent({ privateKey: PRIVATE_KEY_PLACEHOLDER })), {
      mode: 0o600,
    });
    const result = await wireproxyConfigTest(path);
    expect(result.ok).toBe(false);
    expect(result.output).not.toContain('Config OK');
  });
});

/** The config's tunnel part (these cases all have a tunnel). */
function tunnelled(config: AgentConfig): { wireproxy: NonNullable<AgentConfig['wireproxy']> } {
  if (config.wireproxy === undefined) throw new Error('expected a tunnelled agent config');
  return { wireproxy: config.wireproxy };
}
