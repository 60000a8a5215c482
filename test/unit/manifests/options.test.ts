import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type ManifestFlags, parseManifestFlags } from '../../../lib/manifests/options.ts';
import { invalidInputIssues } from '../../support/invalid-input.ts';

const TOKEN_URL = 'https://abc.lambda-url.eu-west-1.on.aws/admit/0123456789abcdefXYZ';

function issuesOf(flags: ManifestFlags): readonly string[] {
  return invalidInputIssues(() => parseManifestFlags(flags));
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

  it('takes --iam-auth as a switch (EKS access entries: no token Secrets)', () => {
    expect(parseManifestFlags({ iamAuth: true }).options.iamAuth).toBe(true);
    expect(parseManifestFlags({}).options).not.toHaveProperty('iamAuth');
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

describe('parseManifestFlags: --allowed-cidrs', () => {
  const image = 'ghcr.io/example/anex-gateway:1.2.3';

  it('passes the Service and Pod CIDRs to the gateway, trimmed', () => {
    const { gateway } = parseManifestFlags({
      gatewayImage: image,
      allowedCidrs: ' 10.96.0.0/12, 10.244.0.0/16 ,10.0.0.10/32',
    }).options;
    expect(gateway?.allowedCidrs).toEqual(['10.96.0.0/12', '10.244.0.0/16', '10.0.0.10/32']);
  });

  it.each([
    ['10.96.0.0/12,10.96.0.0', '"10.96.0.0", which is not an IPv4 network such as "10.96.0.0/12"'],
    ['10.96.0.0/12,10.96.0.0/33', '"10.96.0.0/33", which is not an IPv4 network'],
    ['10.96.0.0/12,300.1.0.0/16', '"300.1.0.0/16", which is not an IPv4 network'],
    ['10.96.0.0/12,fd00::/8', '"fd00::/8", which is not an IPv4 network'],
    [
      '10.96.0.0/12,10.244.1.0/16',
      '"10.244.1.0/16", which has host bits set (did you mean "10.244.0.0/16"?)',
    ],
    [' , ', 'lists no CIDR'],
  ])('exits 2 on %j, naming the bad CIDR', (allowedCidrs, message) => {
    const issues = issuesOf({ gatewayImage: image, allowedCidrs });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain('--allowed-cidrs');
    expect(issues[0]).toContain(message);
  });

  it('names every bad CIDR at once', () => {
    expect(issuesOf({ gatewayImage: image, allowedCidrs: 'a,b' })).toHaveLength(2);
  });

  it('refuses it without a gateway to limit', () => {
    expect(issuesOf({ allowedCidrs: '10.96.0.0/12' })).toEqual([
      '--allowed-cidrs "10.96.0.0/12" limits the gateway: pass --gateway-image and --agent-url too',
    ]);
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

  it('puts --allowed-cidrs into the gateway container (ANEX_ALLOWED_CIDRS)', async () => {
    const { code, stdout } = await anex([
      '--agent-url',
      'https://agent.lambda-url.eu-west-1.on.aws/',
      '--gateway-image',
      'ghcr.io/example/anex-gateway:1.2.3',
      '--allowed-cidrs',
      '10.96.0.0/12,10.244.0.0/16',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/name: ANEX_ALLOWED_CIDRS\n\s+value: 10\.96\.0\.0\/12,10\.244\.0\.0\/16/);
  });

  it('exits 2 naming a bad CIDR', async () => {
    const { code, stderr } = await anex([
      '--agent-url',
      'https://agent.lambda-url.eu-west-1.on.aws/',
      '--gateway-image',
      'g:1',
      '--allowed-cidrs',
      '10.96.0.0/12,10.244.0.1/16',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('"10.244.0.1/16", which has host bits set');
  });

  it('exits 2 naming the bad flag and value', async () => {
    const { code, stdout, stderr } = await anex(['--output', 'xml']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('--output "xml" must be yaml or json');
  });
});

describe('parseManifestFlags: --env-namespaces', () => {
  it('passes the namespaces, trimmed', () => {
    expect(parseManifestFlags({ envNamespaces: ' ml, research ' }).options.envNamespaces).toEqual([
      'ml',
      'research',
    ]);
  });

  it.each([
    [' , ', 'lists no namespace'],
    ['ml,Research', 'is not a valid namespace name'],
  ])('exits 2 on %j, naming the flag', (envNamespaces, message) => {
    const issues = issuesOf({ envNamespaces });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain('--env-namespaces');
    expect(issues[0]).toContain(message);
  });
});
