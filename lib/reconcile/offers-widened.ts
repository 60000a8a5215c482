import type { Requirements } from '../annotations/requirements.ts';
import type { Offer } from '../offers/offer.ts';

/**
 * The pod's search with every filter dropped but the GPU model and count. Providers filter
 * server-side, so a search that matches nothing returns nothing — and `explain` would have
 * neither a funnel nor a near miss to show. This wider search is made only then, and only to
 * explain (its offers are never rented: ranking still uses the pod's own search).
 */
export function widenedForExplain(requirements: Requirements): Requirements {
  return {
    provider: requirements.provider,
    diskToAllocateGb: requirements.diskToAllocateGb,
    vastai: { verifiedOnly: false },
    runpod: { keepGpuTypePriority: false },
    notes: [],
    warnings: [],
    ...(requirements.gpuNames === undefined ? {} : { gpuNames: requirements.gpuNames }),
    ...(requirements.gpuCount === undefined ? {} : { gpuCount: requirements.gpuCount }),
  };
}

/** Both searches' offers, each once (by offer id). */
export function mergeOffers(own: readonly Offer[], wider: readonly Offer[]): Offer[] {
  const byId = new Map<string, Offer>();
  for (const offer of [...own, ...wider]) byId.set(offer.offerId, offer);
  return [...byId.values()];
}
