import { createHash, createHmac } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import {
  eksClusterOf,
  eksToken,
  lambdaCredentials,
  withEksAuth,
} from '../../../functions/support/eks-token.ts';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session/token+with=chars',
};
const now = new Date('2026-12-04T07:30:00.000Z');

/** node:crypto in the shape @smithy/signature-v4 wants (a Checksum constructor). */
class Sha256 {
  readonly #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer));
  }
  update(data: Uint8Array): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
  reset(): void {}
}

function decode(token: string): URL {
  expect(token.startsWith('k8s-aws-v1.')).toBe(true);
  expect(token).not.toMatch(/[=+/]/);
  return new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8'));
}

describe('eksToken', () => {
  it('is the presigned STS GetCallerIdentity URL naming the cluster in x-k8s-aws-id, as aws eks get-token makes it', () => {
    const url = decode(eksToken({ clusterName: 'prod', region: 'eu-west-1', credentials, now }));
    expect(url.origin).toBe('https://sts.eu-west-1.amazonaws.com');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEXAMPLE/20261204/eu-west-1/sts/aws4_request',
      'X-Amz-Date': '20261204T073000Z',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
      'X-Amz-Security-Token': credentials.sessionToken,
    });
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    // the secret key itself never goes into the token
    expect(Buffer.from(JSON.stringify(url.href))).not.toContain(credentials.secretAccessKey);
  });

  it("signs exactly as the AWS SDK's own SigV4 presigner does for the same request", async () => {
    const signer = new SignatureV4({ credentials, region: 'eu-west-1', service: 'sts', sha256: Sha256 });
    const presigned = await signer.presign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'sts.eu-west-1.amazonaws.com',
        path: '/',
        query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
        headers: { host: 'sts.eu-west-1.amazonaws.com', 'x-k8s-aws-id': 'prod' },
      },
      { expiresIn: 60, signingDate: now },
    );
    const ours = decode(eksToken({ clusterName: 'prod', region: 'eu-west-1', credentials, now }));
    expect(ours.searchParams.get('X-Amz-Signature')).toBe(presigned.query?.['X-Amz-Signature']);
  });

  it.each([
    ['another cluster', { clusterName: 'staging' }],
    ['another second', { now: new Date(now.getTime() + 1000) }],
    ['another key', { credentials: { ...credentials, secretAccessKey: 'other' } }],
  ])('changes its signature with %s', (_what, change) => {
    const base = { clusterName: 'prod', region: 'eu-west-1', credentials, now };
    const signature = (options: typeof base) => decode(eksToken(options)).searchParams.get('X-Amz-Signature');
    expect(signature({ ...base, ...change })).not.toBe(signature(base));
  });
});

describe('eksClusterOf', () => {
  it.each([
    [{ command: 'aws', args: ['eks', 'get-token', '--cluster-name', 'prod'] }, { clusterName: 'prod' }],
    [
      {
        command: '/usr/local/bin/aws',
        args: ['--region', 'eu-west-1', 'eks', 'get-token', '--cluster-name', 'prod', '--output', 'json'],
      },
      { clusterName: 'prod', region: 'eu-west-1' },
    ],
    [
      { command: 'aws', args: ['eks', 'get-token', '--cluster-name=prod', '--region=us-east-2'] },
      { clusterName: 'prod', region: 'us-east-2' },
    ],
    [{ command: 'aws-iam-authenticator', args: ['token', '-i', 'prod'] }, undefined],
    [{ command: 'aws', args: ['eks', 'get-token'] }, undefined],
  ])('reads %j as %j', (exec, expected) => {
    expect(eksClusterOf({ name: 'u', exec } as never)).toEqual(expected);
  });
});

describe('withEksAuth', () => {
  const env = {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: credentials.sessionToken,
    AWS_REGION: 'eu-west-1',
  };

  function kubeConfigWith(user: object): KubeConfig {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://example.eks.amazonaws.com', skipTLSVerify: false }],
      users: [{ name: 'u', ...user }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return kubeConfig;
  }

  it('signs a token per request for an aws eks get-token user, without running the AWS CLI', async () => {
    const kubeConfig = withEksAuth(
      kubeConfigWith({ exec: { command: 'aws', args: ['eks', 'get-token', '--cluster-name', 'prod'] } }),
      { env, now: () => now },
    );
    const opts: { headers?: Record<string, string> } = {};
    await kubeConfig.applyToHTTPSOptions(opts as never);
    const bearer = opts.headers?.Authorization ?? '';
    expect(bearer).toBe(`Bearer ${eksToken({ clusterName: 'prod', region: 'eu-west-1', credentials, now })}`);
  });

  it('leaves a token kubeconfig as it is', async () => {
    const kubeConfig = withEksAuth(kubeConfigWith({ token: 'sa-token' }), { env: {} });
    const opts: { headers?: Record<string, string> } = {};
    await kubeConfig.applyToHTTPSOptions(opts as never);
    expect(opts.headers?.Authorization).toBe('Bearer sa-token');
  });

  it('says which variables are missing outside Lambda', () => {
    expect(() =>
      withEksAuth(
        kubeConfigWith({ exec: { command: 'aws', args: ['eks', 'get-token', '--cluster-name', 'p'] } }),
        {
          env: {},
        },
      ),
    ).toThrow(/AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_REGION is not set/);
    expect(lambdaCredentials(env).credentials.sessionToken).toBe(credentials.sessionToken);
  });
});
