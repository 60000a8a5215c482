import { describe, expect, it } from 'vitest';
import { pinIssues } from '../../../lib/tunnel/pins.ts';
import {
  builtAgentArtifact,
  builtFiles,
  describeBuild,
  parseBuildManifest,
  selfBuiltPin,
} from '../../../lib/tunnel/self-built.ts';
import { aBuildManifest } from '../../support/tunnel.ts';

const SUM = (c: string) => c.repeat(64);

/** aBuildManifest with one binary's field replaced. */
function withBinary(name: 'wireproxy' | 'wstunnel', patch: Record<string, unknown>): string {
  const built = aBuildManifest();
  return JSON.stringify({
    ...built,
    binaries: { ...built.binaries, [name]: { ...built.binaries[name], ...patch } },
  });
}

describe('self-built agent binaries', () => {
  it.each([
    ['wireproxy', 'v1.0.9-anex1', SUM('a'), SUM('b')],
    ['wstunnel', '10.6.2-anex.1', SUM('c'), SUM('d')],
  ] as const)(
    'pins %s for each arch at the given URL with the checksums the build computed',
    (name, version, amd64, arm64) => {
      const built = parseBuildManifest(JSON.stringify(aBuildManifest()), 'm.json');
      const pin = selfBuiltPin(
        built,
        name,
        (arch) => `https://agent.example.com/v1/binaries/${name}/${arch}`,
      );
      expect(pin.name).toBe(name);
      expect(pin.version).toBe(version);
      expect(pin.source).toContain('go1.26.8');
      expect(pin.assets.amd64).toEqual({
        url: `https://agent.example.com/v1/binaries/${name}/amd64`,
        sha256: amd64,
        format: 'binary',
      });
      expect(pin.assets.arm64.sha256).toBe(arm64);
      expect(pinIssues(pin)).toEqual([]);
      expect(builtFiles('/cache/x', built)[name]).toEqual({
        amd64: `/cache/x/${name}-linux-amd64`,
        arm64: `/cache/x/${name}-linux-arm64`,
      });
    },
  );

  it('describes the build in one line', () => {
    const built = parseBuildManifest(JSON.stringify(aBuildManifest()), 'm.json');
    expect(describeBuild('/cache/x', built)).toBe(
      'agent 2, wireproxy v1.0.9-anex1, wstunnel 10.6.2-anex.1 (go1.26.8) self-built in /cache/x',
    );
  });

  it('gives the launch stub the agent binary: exec, checksum per architecture', () => {
    const built = parseBuildManifest(JSON.stringify(aBuildManifest()), 'm.json');
    expect(builtAgentArtifact(built)).toEqual({ sha256: { amd64: SUM('e'), arm64: SUM('f') }, run: 'exec' });
    expect(builtFiles('/cache/x', built).agent.arm64).toBe('/cache/x/agent-linux-arm64');
  });

  it.each([
    ['not JSON', '{', 'm.json: not JSON'],
    [
      'a short checksum',
      withBinary('wstunnel', {
        assets: {
          ...aBuildManifest().binaries.wstunnel.assets,
          arm64: { file: 'f', sha256: 'ab', format: 'binary' },
        },
      }),
      'binaries.wstunnel.assets.arm64.sha256: lower-case hex SHA-256',
    ],
    [
      'a file name with a path',
      withBinary('wireproxy', {
        assets: {
          ...aBuildManifest().binaries.wireproxy.assets,
          amd64: { file: '../x', sha256: SUM('a'), format: 'binary' },
        },
      }),
      'binaries.wireproxy.assets.amd64.file: a plain file name',
    ],
    [
      'a missing binary',
      JSON.stringify({ ...aBuildManifest(), binaries: { wireproxy: aBuildManifest().binaries.wireproxy } }),
      'binaries.wstunnel',
    ],
    [
      'the old one-binary shape',
      JSON.stringify({ name: 'wireproxy', version: 'v1', goVersion: 'go1', source: 's', assets: {} }),
      'binaries',
    ],
  ])('refuses a manifest with %s, naming the file and the field', (_label, text, message) => {
    expect(() => parseBuildManifest(text, 'm.json')).toThrow(message);
  });
});
