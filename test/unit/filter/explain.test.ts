import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRequirements } from '../../../lib/annotations/parse.ts';
import type { Requirements } from '../../../lib/annotations/requirements.ts';
import { explain } from '../../../lib/filter/explain.ts';
import { select } from '../../../lib/filter/select.ts';
import { normalizeVastSearch } from '../../../lib/offers/normalize/vastai.ts';
import { aBan, anOffer, someRequirements } from '../../support/offer-builders.ts';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const vastFixture = normalizeVastSearch(
  JSON.parse(readFileSync(new URL('../../fixtures/providers/vastai-bundles.json', import.meta.url), 'utf8')),
);

function vastRequirements(annotations: Record<string, string>): Requirements {
  const result = parseRequirements({ annotations, nodeSelector: { 'node-provider': 'vastai' } });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.requirements;
}

describe('explain', () => {
  it('counts the offers left after each applicable filter, in the fixed order', () => {
    const offers = [
      anOffer({ region: 'oceania' }),
      anOffer({ gpuCount: 2, vramTotalMb: 49128 }),
      anOffer({ pricePerHour: 3 }),
      anOffer(),
    ];
    const requirements = someRequirements({
      regions: ['europe'],
      pricePerHour: { max: 1 },
      gpuCount: { exact: 1 },
    });
    expect(explain(requirements, offers, [], NOW)).toEqual({
      total: 4,
      matched: 1,
      funnel: [
        { filter: 'region', remaining: 3 },
        { filter: 'gpu-count', remaining: 2 },
        { filter: 'price', remaining: 1 },
      ],
      notes: [],
      nearMiss: expect.objectContaining({ filter: 'region' }),
    });
  });

  it('agrees with select on how many match', () => {
    const requirements = vastRequirements({ 'anex.sh/region': 'europe', 'anex.sh/gpu-count-min': '2' });
    expect(explain(requirements, vastFixture, [], NOW).matched).toBe(
      select(requirements, vastFixture, [], NOW).length,
    );
  });

  it('points out the RTX 4090 that vram-min 24576 keeps out by 12 MB', () => {
    const requirements = vastRequirements({
      'anex.sh/gpu-names': 'RTX 4090',
      'anex.sh/compute-cap': '8.9',
      'anex.sh/vram-min': '24576',
      'anex.sh/region': 'europe',
      'anex.sh/gpu-count': '2',
    });
    const explanation = explain(requirements, vastFixture, [], NOW);
    expect(explanation.matched).toBe(0);
    expect(explanation.nearMiss).toEqual({
      offer: expect.objectContaining({ offerId: '41002500', gpuName: 'RTX 4090', vramMb: 24564 }),
      filter: 'vram',
      reason: 'vram 24564 MB < vram-min 24576 MB',
    });
  });

  it('picks the cheapest offer failing exactly one filter, ignoring cheaper ones failing two', () => {
    const offers = [
      anOffer({ offerId: 'two-failures', pricePerHour: 0.1, region: 'oceania', gpuCount: 4 }),
      anOffer({ offerId: 'one-failure', pricePerHour: 0.5, region: 'oceania' }),
      anOffer({ offerId: 'one-failure-dearer', pricePerHour: 0.6, gpuCount: 4 }),
    ];
    const requirements = someRequirements({ regions: ['europe'], gpuCount: { exact: 1 } });
    expect(explain(requirements, offers, [], NOW).nearMiss).toEqual({
      offer: offers[1],
      filter: 'region',
      reason: 'region oceania not in europe',
    });
  });

  it('breaks a near-miss price tie by offer id', () => {
    const offers = [
      anOffer({ offerId: '20', region: 'africa' }),
      anOffer({ offerId: '3', region: 'africa' }),
    ];
    expect(explain(someRequirements({ regions: ['europe'] }), offers, [], NOW).nearMiss?.offer.offerId).toBe(
      '3',
    );
  });

  it('counts bans as the first filter and names the ban in the near miss', () => {
    const offers = [anOffer({ machineId: '30511' })];
    const explanation = explain(
      someRequirements(),
      offers,
      [aBan('30511', Date.parse('2026-11-26T13:00:00Z'))],
      NOW,
    );
    expect(explanation.funnel).toEqual([{ filter: 'bans', remaining: 0 }]);
    expect(explanation.nearMiss?.reason).toBe('machine 30511 is banned until 2026-11-26T13:00:00.000Z');
  });

  it('has no near miss when everything matches, and passes the requirements notes on', () => {
    const requirements = vastRequirements({ 'anex.sh/vram': '24564', 'anex.sh/vram-min': '1' });
    const explanation = explain(requirements, [anOffer()], [], NOW);
    expect(explanation.nearMiss).toBeUndefined();
    expect(explanation.notes).toEqual(['anex.sh/vram is set: anex.sh/vram-min is ignored']);
  });

  it('explains the seed example against the saved Vast response', () => {
    const requirements = vastRequirements({
      'anex.sh/region': 'europe',
      'anex.sh/gpu-names': 'RTX 4090,RTX 3090',
      'anex.sh/gpu-count': '2',
      'anex.sh/vram-min': '20480',
      'anex.sh/cpu-min': '8',
      'anex.sh/ram-min': '32768',
      'anex.sh/price-max': '1.50',
      'anex.sh/download-speed-min': '1000',
      'vastai.anex.sh/verified-only': 'true',
      'vastai.anex.sh/datacenter-only': 'true',
    });
    const explanation = explain(requirements, vastFixture, [], NOW);
    expect(explanation.funnel.map((s) => s.filter)).toEqual([
      'region',
      'gpu-names',
      'gpu-count',
      'vram',
      'cpu',
      'ram',
      'price',
      'download-speed',
      'verified-only',
      'datacenter-only',
    ]);
    expect(explanation.funnel.at(-1)?.remaining).toBe(8);
    expect(explanation.nearMiss?.reason).toBe('download-speed 920 Mbps < download-speed-min 1000 Mbps');
  });
});
