import { describe, expect, it } from 'vitest';
import { explainSearchCache } from '../../../lib/reconcile/explain-cache.ts';
import { anOffer } from './harness.ts';

const OFFERS = [anOffer({ offerId: 'o-1' })];

describe('explainSearchCache', () => {
  it.each([
    ['just stored', 0, OFFERS],
    ['stored a minute ago', 60_000, OFFERS],
    ['stored exactly one TTL ago', 300_000, undefined],
    ['stored longer ago than the TTL', 900_000, undefined],
    ['stored "in the future" (clock went back)', -1, undefined],
  ])('%s → %s', (_label, age, expected) => {
    const cache = explainSearchCache(300_000);
    cache.set('k', OFFERS, 1_000_000);
    expect(cache.get('k', 1_000_000 + age)).toBe(expected);
  });

  it('keys entries apart and forgets the oldest write beyond its size', () => {
    const cache = explainSearchCache(300_000, 2);
    cache.set('a', OFFERS, 0);
    cache.set('b', [], 0);
    cache.set('a', OFFERS, 1); // rewritten: now the newest
    cache.set('c', [], 2);
    expect(cache.get('b', 3)).toBeUndefined();
    expect(cache.get('a', 3)).toBe(OFFERS);
    expect(cache.get('c', 3)).toEqual([]);
  });
});
