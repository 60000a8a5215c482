import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { select } from '../../../lib/filter/select.ts';
import { type SimulatedMarket, startSimulatedMarket } from '../../../lib/local/simulated-market.ts';
import type { ProviderName } from '../../../lib/offers/offer.ts';
import { createProvider } from '../../../lib/providers/index.ts';
import { HttpLog } from '../../../lib/selftest/http-log.ts';
import { selftestRequirements } from '../../../lib/selftest/launch.ts';
import type { SelftestReport, StepName } from '../../../lib/selftest/report.ts';
import { runSelftest } from '../../../lib/selftest/run.ts';
import { SELFTEST_CLUSTER_ID } from '../../../lib/selftest/tag.ts';
import { MachineRunner } from '../../../lib/sim/machines/runner.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { runCli, startCli } from './cli-process.ts';

/**
 * `anex selftest` against the strict simulators (issue #17 "Done when"): a full pass on both
 * providers, and for each injected fault the step that fails, its message, and zero instances
 * left — counted from the simulators' own state (GET /__sim/instances). The CLI runs as a child
 * process, as an operator runs it; the simulated machines really run the marker stub.
 */

let market: SimulatedMarket;

beforeAll(async () => {
  market = await startSimulatedMarket({ bootMs: 1_500 });
});

afterAll(async () => {
  await market.stop();
});

afterEach(async () => {
  // Money rule: a test that ends with an instance still rented fails.
  const left = { vastai: await rented(market, 'vastai'), runpod: await rented(market, 'runpod') };
  for (const provider of ['vastai', 'runpod'] as const) await admin(market, provider, 'reset', {});
  expect(left).toEqual({ vastai: 0, runpod: 0 });
});

function envFor(m: SimulatedMarket): NodeJS.ProcessEnv {
  return {
    VAST_API_KEY: m.endpoints.vastai.apiKey,
    VAST_API_URL: m.endpoints.vastai.baseUrl,
    RUNPOD_API_KEY: m.endpoints.runpod.apiKey,
    RUNPOD_API_URL: m.endpoints.runpod.baseUrl,
  };
}

const FAST = ['--yes', '--output', 'json', '--poll-seconds', '0.25'];

async function selftest(provider: ProviderName, extra: readonly string[] = [], m = market) {
  const run = await runCli(['selftest', '--provider', provider, ...FAST, ...extra], envFor(m));
  let report: SelftestReport;
  try {
    report = JSON.parse(run.stdout) as SelftestReport;
  } catch {
    throw new Error(`no JSON report (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { ...run, report };
}

async function admin(m: SimulatedMarket, provider: ProviderName, action: string, body: unknown) {
  const response = await fetch(`${m.endpoints[provider].baseUrl}/__sim/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

/** Instances the simulator still holds (its own state, not anex's view). */
async function rented(m: SimulatedMarket, provider: ProviderName): Promise<number> {
  const response = await fetch(`${m.endpoints[provider].baseUrl}/__sim/instances`);
  return ((await response.json()) as unknown[]).length;
}

function step(report: SelftestReport, name: StepName) {
  const found = report.steps.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no step ${name}`);
  return found;
}

const PROVIDERS = ['vastai', 'runpod'] as const;
/** The route name each simulator gives its destroy (for fault injection). */
const DESTROY_ROUTE = { vastai: 'destroy', runpod: 'delete' } as const;

describe('anex selftest', () => {
  it.each(PROVIDERS)(
    '%s: a full pass, every step ✔, nothing left rented, spend reported',
    async (provider) => {
      const run = await selftest(provider, ['--keep-logs']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.report.result).toBe('pass');
      expect(run.report.steps.map((s) => [s.name, s.status])).toEqual(
        run.report.steps.map((s) => [s.name, 'ok']),
      );
      expect(run.report.steps).toHaveLength(10);
      expect(step(run.report, 'marker').message).toMatch(/^"anex-selftest marker [0-9a-f]{24} ok"$/);
      expect(run.report.logs?.join('\n')).toContain('anex-selftest marker');
      expect(run.report.tag).toMatch(/^anex\.anex-selftest\.5e1f7e57-0000-4000-8/);
      expect(run.report.spentUsd).toBeGreaterThanOrEqual(0);
      expect(run.report.spentUsd).toBeLessThanOrEqual(run.report.budgetUsd);
      expect(run.stderr).toContain('✔ no selftest instance left (GC path)');
      expect(await rented(market, provider)).toBe(0);
    },
  );

  it('refuses to rent when the worst case exceeds the budget', async () => {
    const run = await selftest('vastai', ['--budget', '0.01', '--max-minutes', '240']);
    expect(run.code).toBe(1);
    expect(run.report.result).toBe('refused');
    expect(step(run.report, 'plan').status).toBe('fail');
    expect(step(run.report, 'plan').message).toMatch(
      /^worst case \$[\d.]+ \(\$[\d.]+\/h, the cheapest offer, × 240 min\) exceeds --budget \$0\.01: nothing rented/,
    );
    expect(step(run.report, 'create').status).toBe('skipped');
    expect(run.report.instanceId).toBeNull();
    expect(run.report.spentUsd).toBe(0);
    expect(await rented(market, 'vastai')).toBe(0);
  });

  const faults: {
    name: string;
    provider: ProviderName;
    inject: (m: SimulatedMarket) => Promise<void>;
    extra?: string[];
    fails: StepName;
    message: RegExp;
  }[] = [
    {
      name: 'create refused (no credit)',
      provider: 'vastai',
      inject: (m) => admin(m, 'vastai', 'credit', { usd: 0 }),
      fails: 'create',
      message:
        /answered HTTP 400: Your account lacks credit; add credit to rent\. \(add credit to the Vast\.ai account\)/,
    },
    {
      name: 'create refused (balance)',
      provider: 'runpod',
      inject: (m) => admin(m, 'runpod', 'balance', { usd: 0 }),
      fails: 'create',
      message: /runpod POST \/v2\/pods answered HTTP 402/,
    },
    ...PROVIDERS.map((provider) => ({
      name: 'never running',
      provider,
      inject: (m: SimulatedMarket) =>
        admin(m, provider, 'image-plan', { image: 'busybox:1.36', plan: 'never-start' }),
      extra: ['--max-minutes', '0.15'],
      fails: 'running' as const,
      message:
        /^waited \d+ s for the instance to run \(the wall-clock limit set by --budget and --max-minutes\); last state: /,
    })),
    ...PROVIDERS.map((provider) => ({
      name: 'destroy answered 5xx, then 404',
      provider,
      inject: async (m: SimulatedMarket) => {
        const inject = [{ endpoint: DESTROY_ROUTE[provider], action: 'status', status: 500, after: true }];
        await admin(m, provider, 'faults', { inject });
      },
      fails: 'destroy' as const,
      message: /answered HTTP 500 ".+" to DELETE before the instance was found gone \(404\)$/,
    })),
  ];

  it.each(faults)('$provider: $name fails step $fails, clearly, and leaves nothing rented', async (fault) => {
    await fault.inject(market);
    const run = await selftest(fault.provider, fault.extra ?? []);
    expect(run.code, run.stderr).toBe(1);
    expect(run.report.result).toBe('fail');
    const failed = run.report.steps.filter((s) => s.status === 'fail');
    expect(failed.map((s) => s.name)).toEqual([fault.fails]);
    expect(failed[0]?.message).toMatch(fault.message);
    expect(run.stderr).toContain(`✘ `);
    expect(step(run.report, 'no-leftovers').status).toBe('ok');
    expect(run.report.leftovers.remaining).toBe(0);
    expect(await rented(market, fault.provider)).toBe(0);
  });

  it.each(PROVIDERS)(
    '%s: a create whose answer is lost fails step create; the tag finds the instance and it is destroyed',
    async (provider) => {
      const inject = [{ endpoint: 'create', action: 'status', status: 500, after: true }];
      await admin(market, provider, 'faults', { inject });
      const run = await selftest(provider);
      expect(run.code, run.stderr).toBe(1);
      expect(run.report.steps.filter((s) => s.status === 'fail').map((s) => s.name)).toEqual(['create']);
      expect(step(run.report, 'create').message).toMatch(
        /may or may not (have happened|exist); look for the tagged/,
      );
      expect(step(run.report, 'visible-by-tag').message).toMatch(
        /^adopted \S+ by its tag anex\.anex-selftest\./,
      );
      expect(run.report.instanceId).not.toBeNull();
      expect(['destroy', 'gone', 'no-leftovers'].map((n) => step(run.report, n as StepName).status)).toEqual([
        'ok',
        'ok',
        'ok',
      ]);
      expect(await rented(market, provider)).toBe(0);
    },
  );

  it.each(PROVIDERS)('%s: a marker the container never printed fails step marker', async (provider) => {
    // A marketplace whose machines never run: the provider says running, the log stays empty.
    const still = await startSimulatedMarket({ bootMs: 1_500 });
    try {
      await still.runner.stop();
      const run = await selftest(provider, ['--max-minutes', '0.15'], still);
      expect(run.code).toBe(1);
      expect(run.report.steps.filter((s) => s.status === 'fail').map((s) => s.name)).toEqual(['marker']);
      expect(step(run.report, 'marker').message).toMatch(
        /^waited \d+ s for the marker \(the wall-clock limit set by --budget and --max-minutes\); "anex-selftest marker [0-9a-f]{24} ok" is not in the provider's log; (its last lines: \[\]|last read: .+)$/,
      );
      expect(await rented(still, provider)).toBe(0);
    } finally {
      await still.stop();
    }
  });

  it.each(PROVIDERS)('%s: Ctrl-C mid-way destroys what was rented and exits 130', async (provider) => {
    await admin(market, provider, 'image-plan', { image: 'busybox:1.36', plan: 'never-start' });
    const cli = startCli(['selftest', '--provider', provider, ...FAST, '--max-minutes', '2'], envFor(market));
    try {
      await cli.waitFor(/✔ create accepted/, 'the create', 60_000);
      expect(await rented(market, provider)).toBe(1);
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(130);
      const report = JSON.parse(cli.stdout()) as SelftestReport;
      expect(report.result).toBe('interrupted');
      expect(step(report, 'create').status).toBe('ok');
      expect(report.steps.find((s) => s.status === 'fail')?.message).toMatch(
        /^interrupted while waiting for /,
      );
      expect(['destroy', 'gone', 'no-leftovers'].map((n) => step(report, n as StepName).status)).toEqual([
        'ok',
        'ok',
        'ok',
      ]);
      expect(await rented(market, provider)).toBe(0);
    } finally {
      cli.kill();
    }
  });

  it('a second run destroys what a killed run left, first', async () => {
    await admin(market, 'vastai', 'image-plan', { image: 'busybox:1.36', plan: 'never-start' });
    const crashed = startCli(
      ['selftest', '--provider', 'vastai', ...FAST, '--max-minutes', '2'],
      envFor(market),
    );
    await crashed.waitFor(/✔ create accepted/, 'the create', 60_000);
    crashed.child.kill('SIGKILL');
    await crashed.exited;
    expect(await rented(market, 'vastai')).toBe(1);
    await admin(market, 'vastai', 'image-plan', { image: 'busybox:1.36', plan: 'normal' });
    const run = await selftest('vastai');
    expect(run.report.result).toBe('pass');
    expect(step(run.report, 'leftovers').message).toMatch(/^destroyed 1 left by an interrupted run: \d+$/);
    expect(run.report.leftovers.cleanedBefore).toBe(1);
    expect(await rented(market, 'vastai')).toBe(0);
  });
});

describe('runSelftest (in process)', () => {
  it('a host billing above its offer fails billed-price, quoting both prices', async () => {
    const sim = new VastAiSim({ seed: 7, timings: { provisionMs: 200, loadingMs: 300 } });
    await sim.start();
    const runner = new MachineRunner({ hosts: { vastai: sim }, pollMs: 100 });
    runner.start();
    try {
      const http = new HttpLog(['in-process-key']);
      const provider = createProvider('vastai', {
        apiKey: 'in-process-key',
        baseUrl: sim.url,
        clusterId: SELFTEST_CLUSTER_ID,
        fetch: http.fetch,
      });
      const requirements = selftestRequirements('vastai');
      const cheapest = select(requirements, await provider.listOffers(requirements, {}), [], Date.now())[0];
      if (cheapest?.machineId === undefined) throw new Error('no offer');
      sim.billAbove(Number(cheapest.machineId), 0.25);
      const report = await runSelftest({
        providerName: 'vastai',
        provider,
        http,
        budgetUsd: 0.5,
        maxDurationMs: 60_000,
        pollMs: 250,
        confirm: async () => true,
      });
      expect(report.result).toBe('fail');
      expect(report.steps.filter((s) => s.status === 'fail').map((s) => s.name)).toEqual(['billed-price']);
      const said = /^billed \$([\d.]+)\/h, the offer said \$([\d.]+)\/h$/.exec(
        step(report, 'billed-price').message,
      );
      expect(Number(said?.[1]) - Number(said?.[2])).toBeCloseTo(0.25, 3);
      expect(report.spentUsd).toBeLessThanOrEqual(report.budgetUsd);
      expect(sim.liveInstances()).toEqual([]);
    } finally {
      await runner.stop();
      await sim.stop();
    }
  });
});
