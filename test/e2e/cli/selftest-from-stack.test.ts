import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderName } from '../../../lib/offers/offer.ts';
import type { SelftestReport } from '../../../lib/selftest/report.ts';
import { MachineRunner } from '../../../lib/sim/machines/runner.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { type SecretsManagerStub, startSecretsManager } from '../../support/secrets-manager.ts';
import { runCli } from './cli-process.ts';

/**
 * `anex selftest --from-stack <ReconcilerSecretArn>` as an operator runs it after `cdk deploy`
 * (ADR 0018 §8): the CLI as a child process reads the provider key through the real AWS SDK
 * over HTTP — from a Secrets-Manager-compatible endpoint (test/support/secrets-manager.ts)
 * that AWS_ENDPOINT_URL_SECRETS_MANAGER points the SDK at, signed with dummy credentials —
 * then rents on the strict simulators, whose machines really run the marker stub. The
 * simulators accept only the key in the secret, so a pass proves the key came from there.
 */

const KEY = `selftest-stack-${randomBytes(12).toString('hex')}`;
const ACCOUNT = '123456789012';
const arn = (name: string) => `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:${name}`;
const RECONCILER = arn('anex-reconciler-AbCdEf');
const MISSING = arn('anex-deleted-GhIjKl');
const DENIED = arn('anex-other-team-MnOpQr');

const vastai = new VastAiSim({ seed: 7, apiKeys: [KEY], timings: { provisionMs: 750, loadingMs: 750 } });
const runpod = new RunPodSim({
  seed: 7,
  apiKeys: [KEY],
  timings: { provisionMs: 500, startingMs: 500, portsMs: 500 },
});
/** Every route a selftest calls first on each marketplace (its offer search) and the create. */
const FIRST_CALLS = { vastai: ['search', 'create'], runpod: ['gpus', 'datacenters', 'create'] } as const;
const sims = { vastai, runpod } as const;
const callsSoFar = () =>
  (['vastai', 'runpod'] as const).flatMap((name) =>
    FIRST_CALLS[name].map((route) => [name, route, sims[name].requestCount(route)] as const),
  );
let runner: MachineRunner;
let secrets: SecretsManagerStub;

beforeAll(async () => {
  await Promise.all([vastai.start(), runpod.start()]);
  runner = new MachineRunner({ hosts: { vastai, runpod } });
  runner.start();
  secrets = await startSecretsManager({
    region: 'eu-west-1',
    secrets: [
      {
        arn: RECONCILER,
        value: JSON.stringify({ VAST_API_KEY: KEY, RUNPOD_API_KEY: KEY, kubeconfig: 'apiVersion: v1' }),
      },
    ],
    denied: [DENIED],
  });
});

afterAll(async () => {
  await runner?.stop();
  await Promise.all([vastai.stop(), runpod.stop(), secrets?.stop()]);
});

afterEach(() => {
  // Money rule: a test that ends with an instance still rented fails.
  vastai.assertNoInstances();
  runpod.assertNoInstances();
});

/** The operator's shell: AWS credentials and region (not the secret's), no provider key at all. */
function env(): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    AWS_ACCESS_KEY_ID: 'AKIASELFTEST0000TEST',
    AWS_SECRET_ACCESS_KEY: 'selftest-dummy-secret-access-key',
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    VAST_API_KEY: undefined,
    RUNPOD_API_KEY: undefined,
    VAST_API_URL: vastai.url,
    RUNPOD_API_URL: runpod.url,
  };
}

const FAST = ['--yes', '--output', 'json', '--poll-seconds', '0.25'];

function selftest(provider: ProviderName, secretArn: string) {
  return runCli(['selftest', '--provider', provider, '--from-stack', secretArn, ...FAST], env());
}

describe('anex selftest --from-stack', () => {
  it.each(['vastai', 'runpod'] as const)(
    '%s: a full pass with the key read from the reconciler secret',
    async (provider) => {
      const before = secrets.requests.length;
      const run = await selftest(provider, RECONCILER);
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as SelftestReport;
      expect(report.result).toBe('pass');
      expect(report.steps.map((s) => [s.name, s.status])).toEqual(report.steps.map((s) => [s.name, 'ok']));
      // One GetSecretValue, signed for the secret's own region, though the caller's default is another.
      expect(secrets.requests.slice(before)).toEqual([
        {
          target: 'secretsmanager.GetSecretValue',
          scope: { accessKeyId: 'AKIASELFTEST0000TEST', region: 'eu-west-1', service: 'secretsmanager' },
          secretId: RECONCILER,
          answer: 'ok',
        },
      ]);
      expect(`${run.stdout}${run.stderr}`).not.toContain(KEY);
    },
  );

  it.each([
    [
      'a missing secret',
      MISSING,
      "ResourceNotFoundException: Secrets Manager can't find the specified secret.",
    ],
    [
      'a secret the caller may not read',
      DENIED,
      `AccessDeniedException: User: arn:aws:iam::${ACCOUNT}:user/selftest is not authorized to perform: secretsmanager:GetSecretValue on resource: ${DENIED}`,
    ],
  ])(
    '%s fails clearly, naming the ARN and the AWS error, and rents nothing',
    async (_what, secretArn, words) => {
      const before = callsSoFar();
      const run = await selftest('vastai', secretArn);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`anex: --from-stack: cannot read secret ${secretArn}: ${words}`);
      expect(run.stdout).toBe('');
      // Nothing asked of any marketplace: no offer search, no create.
      expect(callsSoFar()).toEqual(before);
      expect([vastai.liveInstances(), runpod.liveInstances()]).toEqual([[], []]);
      expect(`${run.stdout}${run.stderr}`).not.toContain(KEY);
    },
  );
});
