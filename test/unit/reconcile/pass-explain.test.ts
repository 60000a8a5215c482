import { describe, expect, it } from 'vitest';
import type { Requirements } from '../../../lib/annotations/requirements.ts';
import type { Offer } from '../../../lib/offers/offer.ts';
import type { ListOffersOptions } from '../../../lib/providers/provider.ts';
import { explainSearchCache } from '../../../lib/reconcile/explain-cache.ts';
import { FakeProvider } from '../../support/fakes/fake-provider.ts';
import { anOffer, gpuPod, harness } from './harness.ts';

/** A provider that filters server-side on price, as Vast does: a search that matches nothing returns nothing. */
class ServerFilteringProvider extends FakeProvider {
  override async listOffers(requirements: Requirements, options: ListOffersOptions): Promise<Offer[]> {
    const all = await super.listOffers(requirements, options);
    const price = requirements.pricePerHour;
    const max = price !== undefined && 'max' in price ? price.max : undefined;
    return max === undefined ? all : all.filter((o) => o.pricePerHour <= max);
  }
}

describe('runPass: explaining no match when the provider filters server-side', () => {
  it.each([
    { priceMax: '1.5', listings: 2, event: 'NoMatchingOffers', nearMiss: true },
    { priceMax: '5', listings: 1, event: undefined, nearMiss: false },
  ])(
    'price-max $priceMax → $listings offer listing(s), event $event',
    async ({ priceMax, listings, event, nearMiss }) => {
      const h = harness();
      const vast = new ServerFilteringProvider('vastai');
      vast.offers = [anOffer({ gpuName: 'RTX 4090', pricePerHour: 3 })];
      h.deps.providers = { vastai: vast };
      const pod = h.cluster.addPod(
        gpuPod(1, { annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/price-max': priceMax } }),
      );
      await h.pass();

      expect(vast.calls.listOffers).toBe(listings);
      const said = h.cluster.events(pod).find((e) => e.reason === 'NoMatchingOffers');
      expect(said?.reason).toBe(event);
      if (nearMiss) {
        expect(said?.message).toMatch(/1 offers → .*price 0/);
        expect(said?.message).toMatch(/nearest miss: 1x RTX 4090 at \$3\.000\/h/);
      }
      // The wider search only explains: nothing it returned is rented.
      expect(vast.creates.length).toBe(nearMiss ? 0 : 1);
    },
  );
});

describe('runPass: the explain-only search across passes', () => {
  it.each([
    // listOffers calls per pass: the pod's own search, plus the wider one when not cached
    { cache: true, advanceMs: 60_000, calls: [2, 1] },
    { cache: true, advanceMs: 6 * 60_000, calls: [2, 2] },
    { cache: false, advanceMs: 60_000, calls: [2, 2] },
  ])('cache $cache, next pass $advanceMs ms later → calls $calls', async ({ cache, advanceMs, calls }) => {
    const h = harness();
    const vast = new ServerFilteringProvider('vastai');
    vast.offers = [anOffer({ gpuName: 'RTX 4090', pricePerHour: 3 })];
    h.deps.providers = { vastai: vast };
    if (cache) h.deps.explainCache = explainSearchCache();
    const pod = h.cluster.addPod(
      gpuPod(1, { annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/price-max': '1.5' } }),
    );
    const seen: number[] = [];
    for (const step of [0, advanceMs]) {
      h.tick(step);
      const before = vast.calls.listOffers;
      await h.pass();
      seen.push(vast.calls.listOffers - before);
    }
    expect(seen).toEqual(calls);
    // A cached wider search still words the miss: the near miss stays in the pod's status.
    expect(h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state).toMatchObject({
      waiting: {
        reason: 'NoMatchingOffers',
        message: expect.stringMatching(/nearest miss: 1x RTX 4090 at \$3\.000\/h/),
      },
    });
  });
});
