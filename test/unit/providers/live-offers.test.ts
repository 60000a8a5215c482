import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchLiveOffers } from '../../../lib/cli/live-offers.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { aRequirements, failureOf as failure } from './builders.ts';

const vastai = new VastAiSim({ seed: 2, offers: 200 });
const runpod = new RunPodSim({ seed: 2 });
const env: Record<string, string> = {};

beforeAll(async () => {
  env.VAST_API_URL = await vastai.start();
  env.RUNPOD_API_URL = await runpod.start();
  env.VAST_API_KEY = 'k';
  env.RUNPOD_API_KEY = 'k';
});
afterAll(async () => {
  await vastai.stop();
  await runpod.stop();
});
afterEach(() => {
  vastai.assertNoInstances();
  runpod.assertNoInstances();
});

describe('fetchLiveOffers', () => {
  it.each([['vastai'], ['runpod']] as const)(
    'searches the %s API named by the environment',
    async (provider) => {
      const offers = await fetchLiveOffers(provider, aRequirements(provider), [], env);
      expect(offers.length).toBeGreaterThan(0);
      expect(offers.every((o) => o.provider === provider)).toBe(true);
    },
  );

  it('pushes bans in force and drops expired ones', async () => {
    const all = await fetchLiveOffers('vastai', aRequirements('vastai'), [], env);
    const machine = all[0]?.machineId ?? '';
    const ban = { provider: 'vastai' as const, machineId: machine, reason: 'test', createdAt: 0 };
    const banned = await fetchLiveOffers(
      'vastai',
      aRequirements('vastai'),
      [{ ...ban, expiresAt: Date.now() + 60_000 }],
      env,
    );
    const expired = await fetchLiveOffers('vastai', aRequirements('vastai'), [{ ...ban, expiresAt: 1 }], env);
    expect(banned.some((o) => o.machineId === machine)).toBe(false);
    expect(expired.some((o) => o.machineId === machine)).toBe(true);
  });

  it.each([
    ['vastai', 'VAST_API_KEY'],
    ['runpod', 'RUNPOD_API_KEY'],
  ] as const)("names %s's key variable when it is missing", async (provider, variable) => {
    const error = await failure(fetchLiveOffers(provider, aRequirements(provider), [], {}));
    expect(error.kind).toBe('invalid-input');
    expect(error.message).toContain(variable);
  });

  it('rejects a base URL that is not http(s), naming the variable', async () => {
    const error = await failure(
      fetchLiveOffers('vastai', aRequirements('vastai'), [], {
        VAST_API_KEY: 'k',
        VAST_API_URL: 'console.vast.ai',
      }),
    );
    expect(error.kind).toBe('invalid-input');
    expect(error.message).toContain('VAST_API_URL');
  });
});
