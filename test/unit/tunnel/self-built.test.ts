import { describe, expect, it } from 'vitest';
import { pinIssues } from '../../../lib/tunnel/pins.ts';
import { builtFiles, parseBuildManifest, selfBuiltPin } from '../../../lib/tunnel/self-built.ts';
import { aBuildManifest } from '../../support/tunnel.ts';

const SUM = (c: string) => c.repeat(64);

describe('self-built agent binaries', () => {
  it('pins each arch at the given URL with the checksum the build computed', () => {
    const built = parseBuildManifest(JSON.stringify(aBuildManifest()), 'm.json');
    const pin = selfBuiltPin(built, (arch) => `https://agent.example.com/v1/binaries/wireproxy/${arch}`);
    expect(pin.version).toBe('v1.0.9-anex1');
    expect(pin.assets.amd64).toEqual({
      url: 'https://agent.example.com/v1/binaries/wireproxy/amd64',
      sha256: SUM('a'),
      format: 'binary',
    });
    expect(pin.assets.arm64.sha256).toBe(SUM('b'));
    expect(pinIssues(pin)).toEqual([]);
    expect(builtFiles('/cache/x', built)).toEqual({
      amd64: '/cache/x/wireproxy-linux-amd64',
      arm64: '/cache/x/wireproxy-linux-arm64',
    });
  });

  it.each([
    ['not JSON', '{', 'm.json: not JSON'],
    [
      'a short checksum',
      JSON.stringify(
        aBuildManifest({
          assets: { ...aBuildManifest().assets, arm64: { file: 'f', sha256: 'ab', format: 'binary' } },
        }),
      ),
      'assets.arm64.sha256: lower-case hex SHA-256',
    ],
    [
      'a file name with a path',
      JSON.stringify(
        aBuildManifest({
          assets: { ...aBuildManifest().assets, amd64: { file: '../x', sha256: SUM('a'), format: 'binary' } },
        }),
      ),
      'assets.amd64.file: a plain file name',
    ],
    ['another tool', JSON.stringify(aBuildManifest({ name: 'wstunnel' })), 'name'],
  ])('refuses a manifest with %s, naming the file and the field', (_label, text, message) => {
    expect(() => parseBuildManifest(text, 'm.json')).toThrow(message);
  });
});
