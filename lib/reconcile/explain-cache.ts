import type { Offer } from '../offers/offer.ts';

/**
 * Remembers the wider, explain-only offer search (offers-widened.ts) per requirement set, so a
 * pod that matches nothing costs one extra provider search per `ttlMs`, not one per pass. The
 * result only words the NoMatchingOffers message; it is never rented from, so a few minutes of
 * staleness cost nothing. Per process: a Lambda container or `anex run` keeps its own.
 */
export interface ExplainSearchCache {
  /** the offers stored for `key` at most `ttlMs` before `now`, else undefined */
  get(key: string, now: number): readonly Offer[] | undefined;
  set(key: string, offers: readonly Offer[], now: number): void;
}

export const DEFAULT_EXPLAIN_CACHE_TTL_MS = 5 * 60_000;

/** @param maxEntries the oldest entry goes first beyond this (requirement sets are few) */
export function explainSearchCache(
  ttlMs: number = DEFAULT_EXPLAIN_CACHE_TTL_MS,
  maxEntries = 256,
): ExplainSearchCache {
  const entries = new Map<string, { at: number; offers: readonly Offer[] }>();
  return {
    get(key, now) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (now - entry.at < ttlMs && now >= entry.at) return entry.offers;
      entries.delete(key);
      return undefined;
    },
    set(key, offers, now) {
      entries.delete(key);
      entries.set(key, { at: now, offers });
      // Maps iterate in insertion order: the first key is the oldest write.
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    },
  };
}
