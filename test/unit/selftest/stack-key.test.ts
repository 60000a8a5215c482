import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import { apiKeyFromStack, regionOfSecret } from '../../../lib/selftest/stack-key.ts';
import { type SecretsManagerStub, startSecretsManager } from '../../support/secrets-manager.ts';

/**
 * `--from-stack` through the real AWS SDK over HTTP (no fake client): the SDK finds the
 * endpoint in AWS_ENDPOINT_URL_SECRETS_MANAGER, signs with the dummy credentials, and the
 * Secrets-Manager-compatible stub (test/support/secrets-manager.ts) checks the signature's
 * scope and answers as AWS does.
 */

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:anex-reconciler-AbCdEf';
const DENIED = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:someone-else-XyZ123';
const MISSING = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-QwErTy';
const VAST_KEY = 'vast-key-from-stack-0123456789';

let stub: SecretsManagerStub;
const saved: Record<string, string | undefined> = {};

/** The caller's environment for the SDK: the stub's endpoint, dummy keys, a default region unlike the ARN's. */
const ENV = {
  AWS_ACCESS_KEY_ID: 'AKIASELFTEST0000TEST',
  AWS_SECRET_ACCESS_KEY: 'selftest-dummy-secret-access-key',
  AWS_REGION: 'us-east-1',
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
};

beforeAll(async () => {
  stub = await startSecretsManager({
    region: 'eu-west-1',
    secrets: [{ arn: ARN, value: JSON.stringify({ VAST_API_KEY: VAST_KEY, kubeconfig: 'apiVersion: v1' }) }],
    denied: [DENIED],
  });
  for (const [name, value] of Object.entries({ ...ENV, AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await stub.stop();
});

describe('apiKeyFromStack through the AWS SDK', () => {
  it("reads the key in the ARN's own region, signed for secretsmanager", async () => {
    const before = stub.requests.length;
    await expect(apiKeyFromStack(ARN, 'vastai')).resolves.toBe(VAST_KEY);
    expect(stub.requests.slice(before)).toEqual([
      {
        target: 'secretsmanager.GetSecretValue',
        scope: { accessKeyId: ENV.AWS_ACCESS_KEY_ID, region: 'eu-west-1', service: 'secretsmanager' },
        secretId: ARN,
        answer: 'ok',
      },
    ]);
  });

  it.each([
    [
      'a missing secret',
      MISSING,
      'not-found',
      "ResourceNotFoundException: Secrets Manager can't find the specified secret.",
    ],
    [
      'a secret the caller may not read',
      DENIED,
      'auth',
      'AccessDeniedException: User: arn:aws:iam::123456789012:user/selftest is not authorized to perform: secretsmanager:GetSecretValue',
    ],
  ] as const)('%s: the error names the secret and what AWS answered', async (_what, id, kind, words) => {
    const error = await apiKeyFromStack(id, 'vastai').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnexError);
    expect((error as AnexError).kind).toBe(kind);
    expect((error as AnexError).message).toContain(`--from-stack: cannot read secret ${id}: ${words}`);
  });

  it('a secret without the asked provider key names the variable, never the value', async () => {
    const error = await apiKeyFromStack(ARN, 'runpod').catch((e: unknown) => e);
    expect((error as AnexError).message).toBe(`--from-stack: secret ${ARN} has no RUNPOD_API_KEY`);
    expect((error as AnexError).message).not.toContain(VAST_KEY);
  });

  it("a name is read in the caller's default region (here not the stub's: refused by the signature scope)", async () => {
    const error = await apiKeyFromStack('anex-reconciler', 'vastai').catch((e: unknown) => e);
    expect((error as AnexError).message).toMatch(
      /^--from-stack: cannot read secret anex-reconciler: IncompleteSignature: Credential should be scoped to region eu-west-1 and service secretsmanager, not us-east-1\/secretsmanager\.$/,
    );
  });
});

describe('regionOfSecret', () => {
  it.each([
    [ARN, 'eu-west-1'],
    ['arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x-AbCdEf', 'cn-north-1'],
    ['anex-reconciler', undefined],
  ])('%s → %s', (id, region) => {
    expect(regionOfSecret(id)).toBe(region);
  });
});
