import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import {
  agentArtifactFromEnv,
  SIGNED_URL_SECONDS,
  s3Signer,
  storedAgentDownload,
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
    keys: {
      agent: { amd64: 'eee555.bin', arm64: 'fff666.bin' },
      wireproxy: { amd64: 'aaa111.bin', arm64: 'bbb222.bin' },
      wstunnel: { amd64: 'ccc333.bin', arm64: 'ddd444.bin' },
    },
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
  it.each([
    ['wireproxy', 'v1.0.9-anex1', 'aaa111.bin', SUM('a'), 'bbb222.bin', SUM('b')],
    ['wstunnel', '10.6.2-anex.1', 'ccc333.bin', SUM('c'), 'ddd444.bin', SUM('d')],
  ] as const)('pins %s at presigned GET URLs with the build checksums', async (name, version, ...perArch) => {
    const stored = storedBinariesFromEnv({ ANEX_AGENT_BINARIES_S3: JSON.stringify(aStored()) });
    expect(stored).toBeDefined();
    const pins = await storedBinaryPins(stored as NonNullable<typeof stored>, signer)();
    const [amd64Key, amd64Sum, arm64Key, arm64Sum] = perArch;
    for (const [arch, key, sum] of [
      ['amd64', amd64Key, amd64Sum],
      ['arm64', arm64Key, arm64Sum],
    ] as const) {
      const asset = pins[name].assets[arch];
      const url = new URL(asset.url);
      expect(url.protocol).toBe('https:');
      expect(`${url.hostname}${url.pathname}`).toContain(key);
      expect(url.searchParams.get('X-Amz-Expires')).toBe(String(SIGNED_URL_SECONDS));
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIDEXAMPLE\//);
      expect(asset.sha256).toBe(sum);
      expect(asset.format).toBe('binary');
    }
    expect(pins[name].version).toBe(version);
    expect(pinIssues(pins[name])).toEqual([]);
  });

  it('hands out an operator’s pin as given, next to the stack’s other binary', async () => {
    const stored = storedBinariesFromEnv({ ANEX_AGENT_BINARIES_S3: JSON.stringify(aStored()) });
    const asset = { url: 'https://example.com/wstunnel', sha256: SUM('e'), format: 'binary' as const };
    const operator = {
      name: 'wstunnel' as const,
      version: 'v10.6.2',
      source: 'operator',
      assets: { amd64: asset, arm64: asset },
    };
    const pins = await storedBinaryPins(stored as NonNullable<typeof stored>, signer, {
      wstunnel: operator,
    })();
    expect(pins.wstunnel).toBe(operator);
    expect(pins.wireproxy.assets.amd64.sha256).toBe(SUM('a'));
  });

  it('is off when the stack set nothing', () => {
    expect(storedBinariesFromEnv({})).toBeUndefined();
  });

  it.each([
    ['not JSON', '{', 'ANEX_AGENT_BINARIES_S3: not JSON'],
    [
      'a missing key',
      JSON.stringify(aStored({ keys: { ...aStored().keys, wstunnel: { amd64: 'a' } } })),
      'keys.wstunnel.arm64',
    ],
    [
      'a manifest without checksums',
      JSON.stringify(aStored({ manifest: { ...aStored().manifest, binaries: {} } })),
      'ANEX_AGENT_BINARIES_S3.manifest: binaries.agent',
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
      'the stack’s wstunnel next to an operator’s wireproxy pin',
      { ANEX_AGENT_BINARIES_S3: s3, ANEX_AGENT_BINARIES: operatorPins(['wireproxy']) },
      true,
    ],
    [
      'the operator’s pins when both are pinned',
      { ANEX_AGENT_BINARIES_S3: s3, ANEX_AGENT_BINARIES: operatorPins(['wireproxy', 'wstunnel']) },
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
    // The agent itself is always the stack's when the stack uploaded it.
    expect(selfBuiltPins(env).agentDownload !== undefined).toBe('ANEX_AGENT_BINARIES_S3' in env);
  });
});

describe('the agent binary (launch stub and /v1/agent/<arch>)', () => {
  it('redirects each architecture to its own object, presigned', async () => {
    const stored = storedBinariesFromEnv({ ANEX_AGENT_BINARIES_S3: JSON.stringify(aStored()) });
    if (stored === undefined) throw new Error('expected stored binaries');
    const download = storedAgentDownload(stored, signer);
    const url = new URL(await download('arm64'));
    expect(url.pathname).toContain('fff666.bin');
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(SIGNED_URL_SECONDS));
  });

  it.each([
    ['unset', undefined, undefined],
    [
      'both sums',
      JSON.stringify({ amd64: SUM('e'), arm64: SUM('f') }),
      { sha256: { amd64: SUM('e'), arm64: SUM('f') }, run: 'exec' },
    ],
  ])('reads the pinned checksums (%s)', (_label, value, expected) => {
    const env = value === undefined ? {} : { ANEX_AGENT_SHA256: value };
    expect(agentArtifactFromEnv(env)).toEqual(expected);
  });

  it.each([
    ['not JSON', '{', 'ANEX_AGENT_SHA256: not JSON'],
    [
      'a short sum',
      JSON.stringify({ amd64: 'abc', arm64: SUM('f') }),
      'ANEX_AGENT_SHA256: amd64: lower-case hex SHA-256',
    ],
    [
      'an extra key',
      JSON.stringify({ amd64: SUM('e'), arm64: SUM('f'), riscv: SUM('a') }),
      'ANEX_AGENT_SHA256',
    ],
  ])('refuses %s, naming the variable', (_label, value, message) => {
    expect(() => agentArtifactFromEnv({ ANEX_AGENT_SHA256: value })).toThrow(message);
  });
});
