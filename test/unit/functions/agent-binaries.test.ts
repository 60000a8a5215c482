import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import {
  SIGNED_URL_SECONDS,
  s3Signer,
  storedBinariesFromEnv,
  storedBinaryPins,
} from '../../../functions/support/agent-binaries.ts';
import { selfBuiltPins } from '../../../functions/support/agent-root.ts';
import { pinIssues } from '../../../lib/tunnel/pins.ts';
import { aBuildManifest } from '../../support/tunnel.ts';

const SUM = (c: string) => c.repeat(64);

function aStored(overrides: Record<string, unknown> = {}) {
  return {
    bucket: 'cdk-hnb659fds-assets-123456789012-eu-west-1',
    keys: { amd64: 'aaa111.bin', arm64: 'bbb222.bin' },
    manifest: aBuildManifest(),
    ...overrides,
  };
}

/** The real SDK signer with fixed, fake credentials: signing is local, nothing is sent. */
const signer = s3Signer(
  new S3Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' },
  }),
);

describe('self-built agent binaries in S3 (agent function)', () => {
  it('pins wireproxy at presigned GET URLs with the build checksums; wstunnel keeps its pin', async () => {
    const stored = storedBinariesFromEnv({ ANEX_AGENT_BINARIES_S3: JSON.stringify(aStored()) });
    expect(stored).toBeDefined();
    const pins = await storedBinaryPins(stored as NonNullable<typeof stored>, signer)();
    for (const [arch, key, sum] of [
      ['amd64', 'aaa111.bin', SUM('a')],
      ['arm64', 'bbb222.bin', SUM('b')],
    ] as const) {
      const asset = pins.wireproxy.assets[arch];
      const url = new URL(asset.url);
      expect(url.protocol).toBe('https:');
      expect(`${url.hostname}${url.pathname}`).toContain(key);
      expect(url.searchParams.get('X-Amz-Expires')).toBe(String(SIGNED_URL_SECONDS));
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIDEXAMPLE\//);
      expect(asset.sha256).toBe(sum);
      expect(asset.format).toBe('binary');
    }
    expect(pins.wireproxy.version).toBe('v1.0.9-anex1');
    expect(pinIssues(pins.wireproxy)).toEqual([]);
    expect(pins.wstunnel.name).toBe('wstunnel');
  });

  it('is off when the stack set nothing', () => {
    expect(storedBinariesFromEnv({})).toBeUndefined();
  });

  it.each([
    ['not JSON', '{', 'ANEX_AGENT_BINARIES_S3: not JSON'],
    ['a missing key', JSON.stringify(aStored({ keys: { amd64: 'a' } })), 'keys.arm64'],
    [
      'a manifest without checksums',
      JSON.stringify(aStored({ manifest: { ...aStored().manifest, assets: {} } })),
      'ANEX_AGENT_BINARIES_S3.manifest: assets.amd64',
    ],
  ])('refuses %s, naming the variable', (_label, text, message) => {
    expect(() => storedBinariesFromEnv({ ANEX_AGENT_BINARIES_S3: text })).toThrow(message);
  });
});

/** ANEX_AGENT_BINARIES naming only `names`. */
function operatorPins(names: string[]): string {
  const asset = { url: 'https://example.com/x', sha256: SUM('d'), format: 'binary' };
  const pin = { version: 'v1', assets: { amd64: asset, arm64: asset } };
  return JSON.stringify(Object.fromEntries(names.map((n) => [n, pin])));
}

describe('which pins the agent function uses', () => {
  const s3 = JSON.stringify(aStored());
  it.each([
    ['the stack’s S3 binaries', { ANEX_AGENT_BINARIES_S3: s3 }, true],
    [
      'the operator’s wireproxy pin over the stack’s',
      { ANEX_AGENT_BINARIES_S3: s3, ANEX_AGENT_BINARIES: operatorPins(['wireproxy']) },
      false,
    ],
    [
      'the stack’s wireproxy next to an operator’s wstunnel pin',
      { ANEX_AGENT_BINARIES_S3: s3, ANEX_AGENT_BINARIES: operatorPins(['wstunnel']) },
      true,
    ],
    ['the settings’ pins when the stack set nothing', {}, false],
  ])('%s', (_label, env, perBootstrap) => {
    expect(selfBuiltPins(env).binaryPins !== undefined).toBe(perBootstrap);
  });
});
