import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderName } from '../../../lib/offers/offer.ts';
import { SELFTEST_POD_SELECTOR } from '../../../lib/selftest/agent-pod.ts';
import type { SelftestReport, StepName } from '../../../lib/selftest/report.ts';
import {
  adminKubeConfig,
  controlPlane,
  createTestNamespace,
  type TestNamespace,
} from '../../support/index.ts';
import { type CliProcess, startCli } from './cli-process.ts';

/**
 * `anex selftest --agent-url` (ADR 0018) against a local anex stack: `anex run --simulate` on
 * the real control plane — its reconciler, its agent endpoint on loopback, and the simulated
 * marketplace whose machines really run the launch stub, which downloads the self-built Go
 * agent, which bootstraps at the endpoint and runs the selftest's busybox command. The
 * selftest runs as a child process, as an operator runs it, and only talks to what an
 * operator's selftest talks to: the agent endpoint, the API server and the provider's API.
 * What is left is counted from the simulators' own state (GET /__sim/instances) and the API
 * server, not from the selftest's report.
 */

const started: CliProcess[] = [];
const dirs: string[] = [];
let stack: CliProcess;
let agentUrl: string;
let market: Record<ProviderName, string>;
/** the namespace the stack may rent in, and one it may not */
let enabled: TestNamespace;
let notEnabled: TestNamespace;

function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const process = startCli(args, env);
  started.push(process);
  return process;
}

beforeAll(async () => {
  enabled = await createTestNamespace('selftest-agent');
  notEnabled = await createTestNamespace('selftest-off');
  const dataDir = await mkdtemp(join(tmpdir(), 'anex-selftest-agent-'));
  dirs.push(dataDir);
  stack = cli([
    'run',
    '--simulate',
    '--kubeconfig',
    controlPlane().kubeconfigPath,
    '--data-dir',
    dataDir,
    '--interval',
    '1',
    '--rent-namespaces',
    enabled.name,
  ]);
  const urls = await stack.waitFor(
    /simulated marketplace: http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+/,
    'the simulated marketplace',
    // the first run on a machine builds the registry's images and the agent
    300_000,
  );
  const [vastai, runpod] = urls.replace('simulated marketplace: ', '').split(', ') as [string, string];
  market = { vastai, runpod };
  const endpoint = await stack.waitFor(/agent endpoint on http:\/\/127\.0\.0\.1:\d+/, 'the agent endpoint');
  agentUrl = endpoint.replace('agent endpoint on ', '');
  await stack.waitFor(/anex run: nodes anex-vastai, anex-runpod/, 'anex run to start');
});

afterEach(async () => {
  for (const p of started.splice(0)) if (p !== stack) p.kill();
  started.push(stack);
  // Money rule: a test that ends with an instance still rented fails.
  expect({ vastai: await rented('vastai'), runpod: await rented('runpod') }).toEqual({
    vastai: 0,
    runpod: 0,
  });
});

afterAll(async () => {
  if (stack !== undefined) {
    stack.child.kill('SIGTERM');
    await stack.exited;
  }
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  for (const name of ['anex-vastai', 'anex-runpod']) await core.deleteNode({ name }).catch(() => undefined);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Instances the simulator still holds (its own state, not anex's view). */
async function rented(provider: ProviderName): Promise<number> {
  const response = await fetch(`${market[provider]}/__sim/instances`);
  return ((await response.json()) as unknown[]).length;
}

/** The selftest pods in `ns`, as the API server lists them. */
async function selftestPods(ns: TestNamespace): Promise<string[]> {
  const list = await ns.core.listNamespacedPod({ namespace: ns.name, labelSelector: SELFTEST_POD_SELECTOR });
  return list.items.map((p) => p.metadata?.name as string);
}

function args(provider: ProviderName, ns: TestNamespace): string[] {
  return [
    'selftest',
    '--provider',
    provider,
    '--agent-url',
    agentUrl,
    '--kubeconfig',
    controlPlane().kubeconfigPath,
    '--namespace',
    ns.name,
    '--yes',
    '--output',
    'json',
    '--max-minutes',
    '5',
    '--poll-seconds',
    '0.5',
  ];
}

function env(provider: ProviderName): NodeJS.ProcessEnv {
  return provider === 'vastai'
    ? { VAST_API_URL: market.vastai, VAST_API_KEY: 'test-key' }
    : { RUNPOD_API_URL: market.runpod, RUNPOD_API_KEY: 'test-key' };
}

async function selftest(provider: ProviderName, ns: TestNamespace) {
  const run = cli(args(provider, ns), env(provider));
  const code = await run.exited;
  let report: SelftestReport;
  try {
    report = JSON.parse(run.stdout()) as SelftestReport;
  } catch {
    throw new Error(`no JSON report (exit ${code}):\n${run.stdout()}\n${run.stderr()}`);
  }
  return { code, report, stderr: run.stderr() };
}

function step(report: SelftestReport, name: StepName) {
  const found = report.steps.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no step ${name} in ${JSON.stringify(report.steps)}`);
  return found;
}

/**
 * Longer than the CLI may take (--max-minutes 5, plus up to 3 minutes of clean-up retries, ADR
 * 0018 Consequences): a slow run ends with the selftest's own report of the step that was
 * slow, never with vitest killing it mid-run (which would also leave its machine to the next
 * test's count).
 */
const RUN_TIMEOUT_MS = 540_000;

describe('anex selftest --agent-url against a local stack (anex run --simulate)', () => {
  it.each(['vastai', 'runpod'] as const)(
    '%s: the stack rents the pod, the agent reports started, the marker reaches the provider log, the stack destroys it',
    async (provider) => {
      const { code, report, stderr } = await selftest(provider, enabled);
      const failed = report.steps.filter((s) => s.status !== 'ok');
      expect(failed, stderr).toEqual([]);
      expect(code).toBe(0);
      expect(report.result).toBe('pass');
      expect(report.mode).toBe('agent');
      expect(report.plan).toBeNull();
      const uid = report.stack?.podUid as string;
      // The stack's tag: its cluster id (anex run's default) and the pod's UID.
      expect(report.tag).toBe(`anex.default.${uid}`);
      expect(report.stack).toMatchObject({
        agentUrl,
        namespace: enabled.name,
        clusterId: 'default',
        ceilingPerHour: 6,
        worstCaseUsd: 0.5,
        activeDeadlineSeconds: 240,
      });
      expect(step(report, 'endpoint').message).toMatch(/HTTP 400 "query parameter podUid must be a pod UID"/);
      expect(step(report, 'running').message).toMatch(/container running since .* \(reported by the agent\)/);
      expect(step(report, 'marker').message).toMatch(/^"anex-selftest marker [0-9a-f]{24} ok"$/);
      expect(step(report, 'gone').message).toMatch(/destroyed by the stack; the pod finalized/);
      expect(report.spentUsd).toBeGreaterThan(0);
      expect(report.spentUsd).toBeLessThanOrEqual(0.5);
      expect(report.leftovers.remaining).toBe(0);
      // The stack rented it: the machine ran the stub and the Go agent, and the agent's status report reached the endpoint.
      expect(stack.stdout() + stack.stderr()).toMatch(
        new RegExp(`agent status \\{"podUid":"${uid}","state":"started"`),
      );
      expect(await selftestPods(enabled)).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'a namespace the stack may not rent in fails "rented" with the pod\'s condition, and rents nothing',
    async () => {
      const { code, report } = await selftest('vastai', notEnabled);
      expect(code).toBe(1);
      expect(report.result).toBe('fail');
      expect(step(report, 'create').status).toBe('ok');
      const rentedStep = step(report, 'visible-by-tag');
      expect(rentedStep.status).toBe('fail');
      expect(rentedStep.message).toMatch(
        new RegExp(
          `the stack holds the pod: NamespaceNotEnabled: Namespace ${notEnabled.name} may not rent machines: the operator has not enabled it`,
        ),
      );
      expect(step(report, 'running').status).toBe('skipped');
      expect(step(report, 'destroy').status).toBe('ok');
      expect(step(report, 'gone').message).toBe('no instance was listed for the pod; the pod is gone');
      expect(step(report, 'no-leftovers').status).toBe('ok');
      expect(report.instanceId).toBeNull();
      expect(report.spentUsd).toBe(0);
      expect(await selftestPods(notEnabled)).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'Ctrl-C once the machine is rented: exit 130, the pod deleted, the instance gone',
    async () => {
      const run = cli(args('vastai', enabled), env('vastai'));
      await run.waitFor(/✔ rented by the stack/, 'the stack to rent the pod', 90_000);
      expect(await rented('vastai')).toBe(1);
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(130);
      const report = JSON.parse(run.stdout()) as SelftestReport;
      expect(report.result).toBe('interrupted');
      expect(step(report, 'destroy').status).toBe('ok');
      expect(step(report, 'gone').status).toBe('ok');
      expect(report.leftovers.remaining).toBe(0);
      // Counted from the simulator and the API server, not from the report.
      expect(await rented('vastai')).toBe(0);
      expect(await selftestPods(enabled)).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "a SIGKILLed run's pod and machine are cleaned by the next run's leftovers step, which then passes",
    async () => {
      const killed = cli(args('vastai', enabled), env('vastai'));
      await killed.waitFor(/✔ rented by the stack/, 'the stack to rent the pod', 90_000);
      killed.child.kill('SIGKILL');
      await killed.exited;
      const [left] = await selftestPods(enabled);
      expect(left).toMatch(/^anex-selftest-[0-9a-f]{8}$/);
      expect(await rented('vastai')).toBe(1);

      const { code, report, stderr } = await selftest('vastai', enabled);
      expect(
        report.steps.filter((s) => s.status !== 'ok'),
        stderr,
      ).toEqual([]);
      expect(code).toBe(0);
      expect(step(report, 'leftovers').message).toBe(`deleted 1 selftest pod(s) a killed run left: ${left}`);
      expect(report.leftovers.cleanedBefore).toBe(1);
      expect(await rented('vastai')).toBe(0);
      expect(await selftestPods(enabled)).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );
});
