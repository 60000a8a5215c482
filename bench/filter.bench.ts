import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseRequirements } from '../lib/annotations/parse.ts';
import { requirementsInputFromPod } from '../lib/annotations/pod-input.ts';
import type { Requirements } from '../lib/annotations/requirements.ts';
import { explain } from '../lib/filter/explain.ts';
import { compareOfferIds } from '../lib/filter/rank.ts';
import { select } from '../lib/filter/select.ts';
import { normalizeVastSearch } from '../lib/offers/normalize/vastai.ts';
import type { Offer } from '../lib/offers/offer.ts';
import { type Benchmark, compare, measure, round } from './harness.ts';
import { syntheticVastResponse } from './synthetic-vast.ts';

const OFFERS = 100_000;
const NOW = Date.parse('2026-11-26T12:00:00Z');

function seedRequirements(): Requirements {
  const pod = parseYaml(
    readFileSync(new URL('../test/fixtures/pods/seed-example-vastai.yaml', import.meta.url), 'utf8'),
  );
  const input = requirementsInputFromPod(pod);
  const parsed = input.ok ? parseRequirements(input.input) : undefined;
  if (!parsed?.ok) throw new Error('the seed example pod no longer parses');
  return parsed.requirements;
}

/**
 * The seed example's filters written out by hand as one loop: what a person would write for
 * this one pod, with no engine. The engine must stay within 2x of it.
 */
// biome-ignore lint/complexity/noExcessiveCognitiveComplexity: the baseline is deliberately one hand-written loop
function handWritten(offers: readonly Offer[]): Offer[] {
  const out: Offer[] = [];
  for (let i = 0; i < offers.length; i++) {
    const o = offers[i] as Offer;
    if (o.region !== 'europe') continue;
    if (o.gpuKey !== 'rtx4090' && o.gpuKey !== 'rtx3090') continue;
    if (o.gpuCount !== 2) continue;
    if (!(o.vramMb >= 20480)) continue;
    if (o.cpuCores === undefined || !(o.cpuCores >= 8)) continue;
    if (o.ramMb === undefined || !(o.ramMb >= 32768)) continue;
    if (!(o.pricePerHour <= 1.5)) continue;
    if (o.downloadMbps === undefined || !(o.downloadMbps >= 1000)) continue;
    if (o.verified !== true || o.datacenter !== true) continue;
    out.push(o);
  }
  return out.sort((a, b) => a.pricePerHour - b.pricePerHour || compareOfferIds(a.offerId, b.offerId));
}

function sameRanking(a: readonly Offer[], b: readonly Offer[]): boolean {
  return a.length === b.length && a.every((offer, i) => offer === b[i]);
}

const raw = syntheticVastResponse(OFFERS);
let normalized: Offer[] | undefined;
const offers = (): Offer[] => {
  normalized ??= normalizeVastSearch(raw);
  return normalized;
};

export const benchmarks: Benchmark[] = [
  {
    name: 'normalize-vast-100k',
    run: () => ({
      name: 'normalize-vast-100k',
      unit: 'ms',
      median: round(measure(() => normalizeVastSearch(raw), { iterations: 7, warmup: 2 })),
    }),
  },
  {
    name: 'filter-select-vast-100k-seed',
    run: () => {
      const requirements = seedRequirements();
      const list = offers();
      const engine = select(requirements, list, [], NOW);
      if (!sameRanking(engine, handWritten(list)) || engine.length === 0) {
        throw new Error(
          `engine and hand-written loop disagree (${engine.length} vs ${handWritten(list).length})`,
        );
      }
      return compare(
        'filter-select-vast-100k-seed',
        () => select(requirements, list, [], NOW),
        () => handWritten(list),
        { iterations: 41, warmup: 10 },
      );
    },
  },
  {
    name: 'filter-explain-vast-100k-seed',
    run: () => {
      const requirements = seedRequirements();
      const list = offers();
      return {
        name: 'filter-explain-vast-100k-seed',
        unit: 'ms',
        median: round(measure(() => explain(requirements, list, [], NOW), { iterations: 21, warmup: 5 })),
      };
    },
  },
];
