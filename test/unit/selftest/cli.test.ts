import type { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../lib/cli/main.ts';
import { AnexError } from '../../../lib/errors.ts';
import { apiKeyFromStack, checkSecretId } from '../../../lib/selftest/stack-key.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:anex-reconciler-AbCdEf';

/** A Secrets Manager client that answers one secret string (or fails). */
function secretsClient(answer: string | Error) {
  return {
    send: async (command: GetSecretValueCommand) => {
      expect(command.input.SecretId).toBe(ARN);
      if (answer instanceof Error) throw answer;
      return { SecretString: answer };
    },
  } as never;
}

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(args), stderr };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('anex selftest: input', () => {
  it.each([
    [
      ['--provider', 'lambda'],
      /option '--provider <name>' argument 'lambda' is invalid. Allowed choices are vastai, runpod/,
    ],
    [['--provider', 'vastai', '--budget', '0'], /"0" is not a budget in USD from 0.01 to 100 \(e.g. 0.50\)/],
    [['--provider', 'vastai', '--budget', 'ten'], /"ten" is not a budget in USD/],
    [['--provider', 'vastai', '--max-minutes', '600'], /"600" is not a number of minutes from 0.1 to 240/],
    [
      ['--provider', 'vastai', '--yes', '--from-stack', 'not a secret!'],
      /--from-stack: "not a secret!" is not a Secrets Manager secret ARN or name/,
    ],
    [['--provider', 'vastai'], /confirm with --yes when stdin is not a terminal/],
  ])('refuses %j with exit 2 and says why', async (args, message) => {
    const stdin = process.stdin.isTTY;
    process.stdin.isTTY = false;
    try {
      const result = await run(['selftest', ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    } finally {
      process.stdin.isTTY = stdin;
    }
  });

  it('refuses to run without the provider key, naming the variable', async () => {
    const saved = process.env.RUNPOD_API_KEY;
    delete process.env.RUNPOD_API_KEY;
    try {
      const result = await run(['selftest', '--provider', 'runpod', '--yes']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /RUNPOD_API_KEY is not set: anex selftest rents with your runpod account, or pass --from-stack/,
      );
    } finally {
      if (saved !== undefined) process.env.RUNPOD_API_KEY = saved;
    }
  });
});

describe('--from-stack', () => {
  it.each([ARN, 'anex/reconciler'])('accepts %s', (id) => {
    expect(checkSecretId(id)).toBe(id);
  });

  it('reads the provider key from the reconciler secret', async () => {
    const key = await apiKeyFromStack(
      ARN,
      'vastai',
      secretsClient(JSON.stringify({ VAST_API_KEY: 'vast-key-1234567890', kubeconfig: 'apiVersion: v1' })),
    );
    expect(key).toBe('vast-key-1234567890');
  });

  it.each([
    [
      'a secret without the key',
      JSON.stringify({ VAST_API_KEY: 'vast-key-1234567890' }),
      'runpod',
      /has no RUNPOD_API_KEY/,
    ],
    ['a secret that is not JSON', 'RUNPOD_API_KEY=abc', 'runpod', /is not a JSON object/],
    [
      'an unreadable secret',
      new Error('AccessDeniedException'),
      'vastai',
      /cannot read secret arn:aws:secretsmanager:.+: Error/,
    ],
  ] as const)('names the secret, never a value, for %s', async (_what, answer, provider, message) => {
    const error = await apiKeyFromStack(ARN, provider, secretsClient(answer)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnexError);
    expect((error as AnexError).message).toMatch(message);
    expect((error as AnexError).message).not.toContain('vast-key-1234567890');
    expect((error as AnexError).message).not.toContain('abc');
  });
});
