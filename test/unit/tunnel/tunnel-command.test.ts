import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { previewTunnel } from '../../../lib/tunnel/preview.ts';

const BIN = fileURLToPath(new URL('../../../bin/anex.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'anex-tunnel-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function aPod(provider: string, env: { name: string; value?: string }[]) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: {
      nodeSelector: { 'node-provider': provider },
      containers: [{ name: 'c', image: 'i', command: ['python'], env }],
    },
  };
}

function podFile(pod: unknown): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, stringify(pod));
  return path;
}

function anex(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('previewTunnel', () => {
  it('renders a vast pod with example values marked as examples, and its tunnels', () => {
    const preview = previewTunnel(
      aPod('vastai', [
        { name: 'GW_TUNNEL_5432', value: 'db.default.svc.cluster.local:5432' },
        { name: 'X', value: '1' },
      ]),
    );
    expect(preview).toMatchObject({
      provider: 'vastai',
      transport: 'udp',
      tunnels: [{ port: 5432, target: 'db.default.svc.cluster.local:5432' }],
    });
    expect(preview.wireproxyConfig).toMatch(/^PrivateKey = [A-Za-z0-9+/]{43}=$/m);
    expect(preview.wireproxyConfig).toMatch(/^# {3}PrivateKey {2}example/m);
    expect(preview.wireproxyConfig).toContain('Endpoint = 192.0.2.1:51820');
    expect(preview.wireproxyConfig).toMatch(/^# {3}Endpoint {4}example 192\.0\.2\.1:51820/m);
    expect(preview.wireproxyConfig).toContain('Address = 10.255.255.254/32');
    expect(preview.wstunnelCommand).toBeUndefined();
  });

  it('gives a runpod pod the local wstunnel endpoint and the client command', () => {
    const preview = previewTunnel(aPod('runpod', []), {
      wstunnelUrl: 'wss://gw.example.com',
      dns: ['10.96.0.10'],
      clusterCidrs: ['10.96.0.0/12'],
    });
    expect(preview.transport).toBe('wstunnel');
    expect(preview.wireproxyConfig).toContain('Endpoint = 127.0.0.1:51820');
    expect(preview.wireproxyConfig).toContain('DNS = 10.96.0.10');
    expect(preview.wireproxyConfig).toContain('AllowedIPs = 10.250.0.0/16, 10.96.0.0/12');
    expect(preview.wstunnelCommand).toContain('wstunnel client --tls-verify-certificate');
    expect(preview.wstunnelCommand).toContain('wss://gw.example.com');
  });

  it('refuses a manifest without containers', () => {
    expect(() => previewTunnel({ spec: {} })).toThrow('no spec.containers[]');
  });
});

describe('anex tunnel config', () => {
  it('prints the wireproxy config, with the wstunnel command as comments on RunPod', async () => {
    const result = await anex([
      'tunnel',
      'config',
      '--pod',
      podFile(aPod('runpod', [{ name: 'GW_TUNNEL_6379', value: 'redis.default.svc.cluster.local:6379' }])),
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^# anex tunnel config: .* EXAMPLE values/);
    expect(result.stdout).toContain('\n[Interface]\n');
    expect(result.stdout).toContain(
      '[TCPClientTunnel]\nBindAddress = 127.0.0.1:6379\nTarget = redis.default.svc.cluster.local:6379\n',
    );
    expect(result.stdout).toContain(
      '# runpod blocks UDP: the agent first starts the wstunnel client\n# WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX=',
    );
  });

  it('prints JSON with --output json', async () => {
    const result = await anex(['tunnel', 'config', '--pod', podFile(aPod('vastai', [])), '--output', 'json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ provider: 'vastai', transport: 'udp', tunnels: [] });
  });

  it('exits 2 naming each invalid GW_TUNNEL variable', async () => {
    const pod = aPod('vastai', [
      { name: 'GW_TUNNEL_3128', value: 'db.x:1' },
      { name: 'GW_TUNNEL_abc', value: 'db.x:1' },
      { name: 'GW_TUNNEL_80', value: 'web:80' },
      { name: 'GW_TUNNEL_81', value: 'web.default.svc.cluster.local:80' },
    ]);
    const result = await anex(['tunnel', 'config', '--pod', podFile(pod)]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    for (const name of ['GW_TUNNEL_3128', 'GW_TUNNEL_abc', 'GW_TUNNEL_80='])
      expect(result.stderr).toContain(name);
    expect(result.stderr).not.toContain('GW_TUNNEL_81');
  });

  it('exits 2 for an unknown --output and names the choices', async () => {
    const result = await anex(['tunnel', 'config', '--pod', podFile(aPod('vastai', [])), '--output', 'yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('wireproxy, json');
  });
});
