import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../lib/errors.ts';
import { type ManifestFlags, parseManifestFlags } from '../../../lib/manifests/options.ts';

const TOKEN_URL = 'https://abc.lambda-url.eu-west-1.on.aws/admit/0123456789abcdefXYZ';

function issuesOf(flags: ManifestFlags): readonly string[] {
  try {
    parseManifestFlags(flags);
  } catch (error) {
    if (error instanceof InvalidInputError) return error.issues;
    throw error;
  }
  throw new Error('expected an InvalidInputError');
}

describe('parseManifestFlags', () => {
  it('defaults to YAML, anex-system and the two provider nodes', () => {
    expect(parseManifestFlags({})).toEqual({
      format: 'yaml',
      options: {
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
        namespace: 'anex-system',
        nodeNames: ['anex-vastai', 'anex-runpod'],
      },
    });
  });

  it('accepts a token URL, an agent URL, a node list with spaces, and json', () => {
    const { options, format } = parseManifestFlags({
      webhookUrl: TOKEN_URL,
      agentUrl: 'https://xyz.lambda-url.eu-west-1.on.aws/',
      nodes: ' gpu-a , gpu-b ,',
      output: 'json',
    });
    expect(format).toBe('json');
    expect(options).toMatchObject({ webhookUrl: TOKEN_URL, nodeNames: ['gpu-a', 'gpu-b'] });
  });

  it.each([
    [
      { webhookUrl: 'http://abc.on.aws/admit/0123456789abcdefXYZ' },
      '--webhook-url "http://abc.on.aws/admit/0123456789abcdefXYZ" is not an https:// URL',
    ],
    [{ webhookUrl: `${TOKEN_URL}?x=1` }, 'has a query or fragment'],
    [{ webhookUrl: 'https://abc.lambda-url.eu-west-1.on.aws/' }, 'does not end in /admit/<webhookToken>'],
    [
      { webhookUrl: 'https://abc.lambda-url.eu-west-1.on.aws/admit/short' },
      'does not end in /admit/<webhookToken>',
    ],
    [{ agentUrl: 'ftp://x' }, '--agent-url "ftp://x" is not an https:// URL'],
    [{ namespace: 'Anex_System' }, '--namespace "Anex_System" is not a valid namespace name'],
    [{ nodes: ' , ' }, '--nodes " , " lists no node name'],
    [{ nodes: 'GPU_1' }, '--nodes "GPU_1" has a name that is not a valid node name'],
    [{ output: 'xml' }, '--output "xml" must be yaml or json'],
    [{ gatewayImage: 'not an image' }, '--gateway-image "not an image" is not an image reference'],
    [{ vpnRange: '10.99.0.0' }, '--vpn-range "10.99.0.0" is not an IPv4 network'],
    [
      { gatewayUdpService: 'ClusterIP' },
      '--gateway-udp-service "ClusterIP" must be LoadBalancer or NodePort',
    ],
  ])('rejects %j: %s', (flags, message) => {
    expect(issuesOf(flags).join('\n')).toContain(message);
  });

  it('configures the gateway from --gateway-image, with the default VPN range', () => {
    expect(
      parseManifestFlags({ gatewayImage: 'ghcr.io/example/anex-gateway:1.2.3' }).options.gateway,
    ).toEqual({
      image: 'ghcr.io/example/anex-gateway:1.2.3',
      vpnRange: '10.99.0.0/16',
    });
  });

  it('reports every bad flag at once', () => {
    expect(issuesOf({ output: 'xml', namespace: 'A' })).toHaveLength(2);
  });
});

describe('anex manifests (CLI)', () => {
  const run = promisify(execFile);
  const anex = (args: string[]) =>
    run(process.execPath, ['bin/anex.js', 'manifests', ...args]).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it('prints YAML on stdout and what it left out on stderr (exit 0)', async () => {
    const { code, stdout, stderr } = await anex(['--webhook-url', TOKEN_URL]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^---\napiVersion: v1\nkind: Namespace\n/);
    expect(stdout).toContain('kind: ValidatingWebhookConfiguration');
    expect(stderr).toMatch(/gateway/);
  });

  it('exits 2 naming the bad flag and value', async () => {
    const { code, stdout, stderr } = await anex(['--output', 'xml']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('--output "xml" must be yaml or json');
  });
});
