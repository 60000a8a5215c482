import { gpuKey } from '../offers/gpu-names.ts';
import type { Offer } from '../offers/offer.ts';
import type { FilterContext } from './context.ts';

function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Offer ids ascending, numeric-aware: Vast ids are integers ("9" < "10"); anything else
 * compares by code unit (locale-independent, so the order is the same on every machine).
 */
export function compareOfferIds(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length !== b.length && isDigits(a) && isDigits(b)) return a.length - b.length;
  return a < b ? -1 : 1;
}

/** Price ascending, then offer id: the "cheapest" order of near misses and of Vast candidates. */
export function compareByPrice(a: Offer, b: Offer): number {
  return a.pricePerHour - b.pricePerHour || compareOfferIds(a.offerId, b.offerId);
}

/**
 * The sort key of a candidate as a tuple, most significant first (DESIGN §3 "Ordering"):
 * RunPod with keep-gpu-type-priority → position in gpu-names; RunPod with datacenter-ids →
 * position in that list; then price; then offer id (compared by {@link compareOfferIds}).
 * Exported so tests can check that a ranking is non-decreasing in it.
 */
export function rankKey(offer: Offer, ctx: FilterContext): [number, number, number, string] {
  const runpod = ctx.requirements.provider === 'runpod';
  const gpuPriority =
    runpod && ctx.requirements.runpod.keepGpuTypePriority
      ? (ctx.gpuKeys?.get(offer.gpuKey ?? gpuKey(offer.gpuName)) ?? Infinity)
      : 0;
  const dcPriority =
    runpod && ctx.dataCenters ? (ctx.dataCenters.get(offer.dataCenterId ?? '') ?? Infinity) : 0;
  return [gpuPriority, dcPriority, offer.pricePerHour, offer.offerId];
}

export function compareRankKeys(a: readonly [number, number, number, string], b: typeof a): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || compareOfferIds(a[3], b[3]);
}

/** Sorts candidates in place into rank order. Keys are computed once per candidate. */
export function rank(candidates: Offer[], ctx: FilterContext): Offer[] {
  const usesPriority =
    ctx.requirements.provider === 'runpod' &&
    (ctx.requirements.runpod.keepGpuTypePriority || ctx.dataCenters !== undefined);
  if (!usesPriority) return candidates.sort(compareByPrice);
  const keyed = candidates.map((offer) => ({ offer, key: rankKey(offer, ctx) }));
  keyed.sort((a, b) => compareRankKeys(a.key, b.key));
  for (let i = 0; i < keyed.length; i++) candidates[i] = (keyed[i] as { offer: Offer }).offer;
  return candidates;
}
