import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import type { Arch } from '../../../lib/tunnel/pins.ts';
import { BUILT, parseBuildManifest } from '../../../lib/tunnel/self-built.ts';
import { agentBuildDir, wireproxyBinary } from '../../support/agent-build.ts';
import { eventually } from '../../support/eventually.ts';
import { freePort, tcpAccepts } from '../../support/ports.ts';

/**
 * The binaries anex builds for agents (lib/tunnel/agent-build): checksums that match the
 * files; for wireproxy, the no-op Landlock stub actually linked and a `[TCPClientTunnel]`
 * listener that binds — the one wireproxy's Landlock rules (connect where bind is needed) would
 * refuse. anex's wstunnel has its own tests (wstunnel.test.ts).
 */
const ARCHES: Arch[] = ['amd64', 'arm64'];
const EACH = BUILT.flatMap((name) => ARCHES.map((arch) => [name, arch] as const));

describe('self-built agent binaries', () => {
  const dir = agentBuildDir();
  const manifest = parseBuildManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'), 'manifest.json');

  it.each(EACH)('the manifest checksum of %s linux/%s is the file’s, a static Go build', (name, arch) => {
    const asset = manifest.binaries[name].assets[arch];
    const bytes = readFileSync(join(dir, asset.file));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(asset.sha256);
    const info = execFileSync('go', ['version', '-m', join(dir, asset.file)], { encoding: 'utf8' });
    expect(info).toContain('CGO_ENABLED=0');
    expect(info).toContain(`GOARCH=${arch}`);
    expect(info).toContain('-trimpath=true');
  });

  it('names the pinned versions', () => {
    expect(manifest.binaries.agent.version).toMatch(/^\d+$/);
    expect(manifest.binaries.wireproxy.version).toBe('v1.0.9-anex1');
    expect(manifest.binaries.wstunnel.version).toMatch(/^10\.6\.2-compat\.\d+$/);
    expect(manifest.goVersion).toBe(execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim());
  });

  it('the agent passes its Go tests with the race detector (workload, supervision, probes, dead-man, downloads, bootstrap)', async () => {
    const module = fileURLToPath(new URL('../../../lib/tunnel/agent-build', import.meta.url));
    const { stdout } = await promisify(execFile)('go', ['test', '-race', '-count=1', './agent/...'], {
      cwd: module,
      timeout: 600_000,
    });
    for (const pkg of [
      'agent',
      'agent/internal/workload',
      'agent/internal/supervise',
      'agent/internal/probe',
      'agent/internal/endpoint',
      'agent/internal/deadman',
      'agent/internal/binaries',
    ]) {
      expect(stdout).toMatch(new RegExp(`^ok\\s+anex\\.local/agent-build/${pkg}\\s`, 'm'));
    }
  });

  it.each(ARCHES)('wireproxy linux/%s links the no-op Landlock and pledge stubs, no libcap psx', (arch) => {
    const info = execFileSync(
      'go',
      ['version', '-m', join(dir, manifest.binaries.wireproxy.assets[arch].file)],
      {
        encoding: 'utf8',
      },
    );
    expect(info).toMatch(
      /dep\s+github\.com\/landlock-lsm\/go-landlock\s+\S+\s*\n\s*=>\s+\.\/stubs\/landlock/,
    );
    expect(info).toMatch(/dep\s+suah\.dev\/protect\s+\S+\s*\n\s*=>\s+\.\/stubs\/protect/);
    // upstream go-landlock pulls in libcap's psx for all-thread syscalls; the stub does not
    expect(info).not.toContain('libcap/psx');
  });

  describe('a wireproxy [TCPClientTunnel] listener', () => {
    const work = mkdtempSync(join(tmpdir(), 'anex-wp-bind-'));
    let child: ChildProcess | undefined;
    let output = '';

    afterAll(() => {
      child?.kill('SIGKILL');
      rmSync(work, { recursive: true, force: true });
    });

    it('binds and accepts connections (no Landlock bind refusal)', async () => {
      const port = await freePort();
      const config = join(work, 'wireproxy.conf');
      writeFileSync(
        config,
        [
          '[Interface]',
          `PrivateKey = ${wgKeyPair().privateKey}`,
          'Address = 10.250.0.5/32',
          '',
          '[Peer]',
          `PublicKey = ${wgKeyPair().publicKey}`,
          // nothing answers there: the listener must come up regardless of the tunnel
          'Endpoint = 127.0.0.1:9',
          'AllowedIPs = 10.96.0.0/12',
          '',
          '[TCPClientTunnel]',
          `BindAddress = 127.0.0.1:${port}`,
          'Target = 10.96.0.1:443',
          '',
        ].join('\n'),
      );
      child = spawn(wireproxyBinary(), ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const accepted = await eventually(async () => (await tcpAccepts(port)) || undefined, {
        what: `wireproxy listening on 127.0.0.1:${port}`,
        timeoutMs: 30_000,
        describe: async () => `exit ${child?.exitCode}; output: ${output.slice(-500)}`,
      });
      expect(accepted).toBe(true);
      expect(output).not.toContain('permission denied');
      expect(child.exitCode).toBeNull();
    });
  });
});
