import { describe, expect, it } from 'vitest';
import { RunPodProvider } from '../../../lib/providers/runpod/provider.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { aRequirements, failureOf as error } from './builders.ts';
import { useRunPodSim } from './harness.ts';
import { runPodOffers } from './runpod-offers.ts';
import { sharedFaultTests } from './shared-fault-tests.ts';
import { useGuardedSim } from './sim-lifecycle.ts';

const { sim, setup, url } = useRunPodSim({ seed: 12 });

const { stockedOffer, rentOne } = runPodOffers(sim);

describe('RunPodProvider under faults', () => {
  sharedFaultTests({
    sim,
    setup,
    offer: stockedOffer,
    rentOne,
    createMethod: 'POST',
    createStatus: 502,
    read: { endpoint: 'get', unknownId: 'nosuchpod', transientStatus: 503 },
  });

  it('waits the Retry-After of a 429 and sends RateLimit headers', async () => {
    const { provider, delays } = setup();
    const { instance } = await rentOne(provider);
    sim.inject({ endpoint: 'get', action: 'rate-limit' });
    expect((await provider.get(instance.id, {})).id).toBe(instance.id);
    expect(delays).toEqual([1000]);
    const raw = await fetch(`${url()}/v2/pods/${instance.id}`, { headers: { authorization: 'Bearer k' } });
    expect(raw.headers.get('ratelimit')).toMatch(/"minute";r=\d+;t=\d+/);
    expect(raw.headers.get('ratelimit-policy')).toContain('"minute";q=');
    await provider.destroy(instance.id, {});
  });

  it('reports rate-limited when the per-endpoint limit keeps refusing', async () => {
    const { provider, delays } = setup({ maxAttempts: 2 });
    const { instance } = await rentOne(provider);
    sim.setRateLimit('get', { limit: 1, windowMs: 60_000 });
    await provider.get(instance.id, {});
    expect((await error(provider.get(instance.id, {}))).kind).toBe('rate-limited');
    expect(delays.every((d) => d > 0 && d <= 60_000)).toBe(true);
    sim.setRateLimit('get', undefined);
    await provider.destroy(instance.id, {});
  });

  it('times out when injected latency exceeds the per-attempt timeout', async () => {
    const { provider } = setup({ timeoutMs: 50, maxAttempts: 1 });
    sim.setFaultRates({ latencyMs: 1_000 });
    expect((await error(provider.listTagged({}))).kind).toBe('timeout');
  });

  it.each([['503'], ['refuse']] as const)(
    'reports unavailable when the service is down (%s)',
    async (mode) => {
      const { provider } = setup({ maxAttempts: 2 });
      await sim.setDown(mode);
      try {
        expect((await error(provider.listTagged({}))).kind).toBe('unavailable');
      } finally {
        await sim.setDown(false);
      }
      expect(await provider.listTagged({})).toEqual([]);
    },
  );
});

describe('RunPodProvider with a wrong key', () => {
  const guarded = useGuardedSim(new RunPodSim({ seed: 5, apiKeys: ['the-right-key'] }));

  it.each([
    ['a wrong key', 'wrong-key-abcdef'],
    ['no key', ''],
  ])('throws auth with %s, without the key in the message', async (_name, key) => {
    const provider = new RunPodProvider({ baseUrl: guarded.url, apiKey: key });
    for (const call of [
      () => provider.get('x', {}),
      () => provider.listOffers(aRequirements('runpod'), {}),
    ]) {
      const failure = await error(call());
      expect(failure.kind).toBe('auth');
      if (key) expect(failure.message).not.toContain(key);
    }
  });
});
