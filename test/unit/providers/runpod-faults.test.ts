import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Offer } from '../../../lib/offers/offer.ts';
import { RunPodProvider } from '../../../lib/providers/runpod/provider.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { aLaunch, aRequirements, aTag } from './builders.ts';
import { failureOf as error, useRunPodSim } from './harness.ts';

const { sim, setup, url } = useRunPodSim({ seed: 12 });

/** A one-GPU offer whose (type, DC, cloud) is stocked, so its create succeeds. */
async function stockedOffer(provider: RunPodProvider, index = 0): Promise<Offer> {
  const offers = (await provider.listOffers(aRequirements('runpod'), {})).filter((o) => o.gpuCount === 1);
  const offer = offers[index];
  if (!offer?.gpuTypeId || !offer.dataCenterId || !offer.cloudType) throw new Error('no offer');
  sim.setStock(offer.gpuTypeId, offer.dataCenterId, offer.cloudType, 64);
  return offer;
}

async function rentOne(provider: RunPodProvider, offer?: Offer) {
  const target = offer ?? (await stockedOffer(provider));
  const tag = aTag();
  const result = await provider.create(target, aLaunch(), tag, {});
  if (result.outcome !== 'created') throw new Error(`expected created, got ${result.outcome}`);
  return { offer: target, instance: result.instance, tag };
}

describe('RunPodProvider under faults', () => {
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

  it('retries 5xx on a read', async () => {
    const { provider, requests } = setup();
    const { instance } = await rentOne(provider);
    sim.inject({ endpoint: 'get', action: 'status', status: 503, count: 2 });
    expect((await provider.get(instance.id, {})).id).toBe(instance.id);
    expect(requests.filter((r) => r.url.pathname === `/v2/pods/${instance.id}`)).toHaveLength(3);
    await provider.destroy(instance.id, {});
  });

  it('never resends a create answered 5xx: unknown-outcome, then listTagged finds the pod', async () => {
    const { provider, requests } = setup();
    const offer = await stockedOffer(provider);
    sim.inject({ endpoint: 'create', action: 'status', status: 502, after: true });
    const tag = aTag();
    expect((await error(provider.create(offer, aLaunch(), tag, {}))).kind).toBe('unknown-outcome');
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    const found = (await provider.listTagged({})).filter((i) => i.tag?.podUid === tag.podUid);
    expect(found).toHaveLength(1);
    await provider.destroy(found[0]?.id ?? '', {});
  });

  it('resends a create refused with 429 and creates exactly once', async () => {
    const { provider, requests } = setup();
    const offer = await stockedOffer(provider);
    sim.inject({ endpoint: 'create', action: 'rate-limit' });
    const result = await provider.create(offer, aLaunch(), aTag(), {});
    expect(result.outcome).toBe('created');
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    expect(sim.liveInstances()).toHaveLength(1);
    if (result.outcome === 'created') await provider.destroy(result.instance.id, {});
  });

  it('times out a read that never answers', async () => {
    const { provider } = setup({ timeoutMs: 30, maxAttempts: 2 });
    sim.inject({ endpoint: 'get', action: 'hang', count: 2 });
    expect((await error(provider.get('nosuchpod', {}))).kind).toBe('timeout');
  });

  it('times out when injected latency exceeds the per-attempt timeout', async () => {
    const { provider } = setup({ timeoutMs: 50, maxAttempts: 1 });
    sim.setFaultRates({ latencyMs: 1_000 });
    expect((await error(provider.listTagged({}))).kind).toBe('timeout');
  });

  it('turns a create whose answer never comes into unknown-outcome; listTagged finds it', async () => {
    const { provider } = setup();
    const offer = await stockedOffer(provider);
    // Only the create runs with a short timeout: a loaded CI machine must not time out the catalog.
    const { provider: impatient } = setup({ timeoutMs: 300 });
    sim.inject({ endpoint: 'create', action: 'hang', after: true });
    const tag = aTag();
    expect((await error(impatient.create(offer, aLaunch(), tag, {}))).kind).toBe('unknown-outcome');
    const found = (await provider.listTagged({})).filter((i) => i.tag?.podUid === tag.podUid);
    expect(found).toHaveLength(1);
    await provider.destroy(found[0]?.id ?? '', {});
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
  const guarded = new RunPodSim({ seed: 5, apiKeys: ['the-right-key'] });
  let guardedUrl = '';
  beforeAll(async () => {
    guardedUrl = await guarded.start();
  });
  afterAll(async () => {
    guarded.assertNoInstances();
    await guarded.stop();
  });

  it.each([
    ['a wrong key', 'wrong-key-abcdef'],
    ['no key', ''],
  ])('throws auth with %s, without the key in the message', async (_name, key) => {
    const provider = new RunPodProvider({ baseUrl: guardedUrl, apiKey: key });
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
