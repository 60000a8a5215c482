import type { Requirements } from '../annotations/requirements.ts';
import type { Offer } from '../offers/offer.ts';
import type { Ban } from '../state/store.ts';
import { compileContext } from './context.ts';
import { rank } from './rank.ts';
import { activeRules } from './rules.ts';

/**
 * The offers that satisfy every requirement and are not banned, in rank order (DESIGN §3):
 * the first is the one to rent. Pure: bans and `now` (epoch ms) come in as arguments, and
 * a ban is in force while `expiresAt > now`. Offers must come from `requirements.provider`.
 */
export function select(
  requirements: Requirements,
  offers: readonly Offer[],
  bans: readonly Ban[],
  now: number,
): Offer[] {
  const ctx = compileContext(requirements, bans, now);
  const rules = activeRules(ctx);
  const ruleCount = rules.length;
  const accepted: Offer[] = [];
  outer: for (let i = 0; i < offers.length; i++) {
    const offer = offers[i] as Offer;
    for (let r = 0; r < ruleCount; r++) {
      if (!(rules[r] as (typeof rules)[number]).test(offer, ctx)) continue outer;
    }
    accepted.push(offer);
  }
  return rank(accepted, ctx);
}
