import type { Requirements } from '../annotations/requirements.ts';
import type { Offer } from '../offers/offer.ts';
import type { Ban } from '../state/store.ts';
import { compileContext } from './context.ts';
import { compareByPrice } from './rank.ts';
import { activeRules } from './rules.ts';

export interface FunnelStep {
  /** rule name, e.g. "region", "vram", "bans" */
  filter: string;
  /** offers still in after this filter and every one before it */
  remaining: number;
}

export interface NearMiss {
  offer: Offer;
  filter: string;
  /** e.g. "vram 24564 MB < vram-min 24576 MB" */
  reason: string;
}

/** The answer to "why is my pod still Pending?". */
export interface Explanation {
  total: number;
  matched: number;
  /** one step per applicable filter, in the engine's fixed order */
  funnel: FunnelStep[];
  /** the requirements' notes (ignored bounds, defaults taken) */
  notes: readonly string[];
  /** the cheapest offer (price, then id) failing exactly one filter */
  nearMiss?: NearMiss;
}

/**
 * The same rules as `select`, counted: how many offers survive each filter in turn, and
 * the cheapest offer that one filter alone keeps out (e.g. an RTX 4090 reporting 24564 MB
 * against `vram-min: 24576`). Pure, like `select`.
 */
export function explain(
  requirements: Requirements,
  offers: readonly Offer[],
  bans: readonly Ban[],
  now: number,
): Explanation {
  const ctx = compileContext(requirements, bans, now);
  const rules = activeRules(ctx);
  const firstFailures = new Array<number>(rules.length).fill(0);
  let matched = 0;
  let miss: { offer: Offer; rule: number } | undefined;
  for (const offer of offers) {
    let first = -1;
    let failures = 0;
    for (let r = 0; r < rules.length && failures < 2; r++) {
      if ((rules[r] as (typeof rules)[number]).test(offer, ctx)) continue;
      failures++;
      if (first < 0) first = r;
    }
    if (first < 0) matched++;
    else firstFailures[first] = (firstFailures[first] ?? 0) + 1;
    if (failures === 1 && (miss === undefined || compareByPrice(offer, miss.offer) < 0))
      miss = { offer, rule: first };
  }
  let remaining = offers.length;
  const funnel = rules.map((rule, r) => {
    remaining -= firstFailures[r] ?? 0;
    return { filter: rule.name, remaining };
  });
  const explanation: Explanation = { total: offers.length, matched, funnel, notes: requirements.notes };
  if (miss !== undefined) {
    const rule = rules[miss.rule] as (typeof rules)[number];
    explanation.nearMiss = { offer: miss.offer, filter: rule.name, reason: rule.why(miss.offer, ctx) };
  }
  return explanation;
}
