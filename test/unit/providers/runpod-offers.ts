import type { Offer } from '../../../lib/offers/offer.ts';
import type { RunPodProvider } from '../../../lib/providers/runpod/provider.ts';
import type { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { aLaunch, aRequirements, aTag } from './builders.ts';

/** Offer helpers for RunPod tests: the catalog's stock is seeded, so a create needs stock set first. */
export function runPodOffers(sim: RunPodSim) {
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

  return { stockedOffer, rentOne };
}
