import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NumericConstraint, Requirements } from '../../../lib/annotations/requirements.ts';
import { compileContext } from '../../../lib/filter/context.ts';
import { explain } from '../../../lib/filter/explain.ts';
import { compareRankKeys, rankKey } from '../../../lib/filter/rank.ts';
import { activeRules } from '../../../lib/filter/rules.ts';
import { select } from '../../../lib/filter/select.ts';
import { gpuKey } from '../../../lib/offers/gpu-names.ts';
import { type Offer, REGIONS, RUNPOD_CLOUD_TYPES } from '../../../lib/offers/offer.ts';
import type { Ban } from '../../../lib/state/store.ts';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const GPUS = ['RTX 4090', 'RTX 3090', 'RTX 4080S', 'RTX 4080 SUPER', 'A100 PCIE', 'H100 SXM'];
const DCS = ['EU-RO-1', 'US-CA-2', 'EUR-IS-1'];
const MACHINES = ['1', '2', '3', '4', '5'];

// Small domains on purpose: ties in price and id, repeated machines, every region.
const offerArb = (provider: 'vastai' | 'runpod') =>
  fc
    .record({
      id: fc.integer({ min: 1, max: 60 }),
      machineId: fc.constantFrom(...MACHINES),
      gpuName: fc.constantFrom(...GPUS),
      gpuCount: fc.integer({ min: 1, max: 4 }),
      vramMb: fc.constantFrom(16376, 24564, 24576, 81920),
      cpuCores: fc.option(fc.integer({ min: 2, max: 64 }), { nil: undefined }),
      ramMb: fc.option(fc.constantFrom(16000, 32768, 65536), { nil: undefined }),
      price: fc.integer({ min: 1, max: 40 }).map((n) => n / 10),
      region: fc.option(fc.constantFrom(...REGIONS), { nil: undefined }),
      cudaMax: fc.constantFrom('11.8', '12.4', '12.9', '12.10', '13.0'),
      verified: fc.option(fc.boolean(), { nil: undefined }),
      datacenter: fc.boolean(),
      cloudType: fc.constantFrom(...RUNPOD_CLOUD_TYPES),
      dataCenterId: fc.constantFrom(...DCS),
    })
    .map(
      (r): Offer => ({
        provider,
        offerId:
          provider === 'vastai'
            ? String(r.id)
            : `${r.gpuName}|${r.cloudType}|${r.dataCenterId}|${r.gpuCount}`,
        ...(provider === 'vastai'
          ? { machineId: r.machineId }
          : { cloudType: r.cloudType, dataCenterId: r.dataCenterId }),
        gpuName: r.gpuName,
        gpuKey: gpuKey(r.gpuName),
        gpuCount: r.gpuCount,
        vramMb: r.vramMb,
        vramTotalMb: r.vramMb * r.gpuCount,
        pricePerHour: r.price,
        cudaMax: r.cudaMax,
        datacenter: r.datacenter,
        ...(r.cpuCores === undefined ? {} : { cpuCores: r.cpuCores }),
        ...(r.ramMb === undefined ? {} : { ramMb: r.ramMb }),
        ...(r.region === undefined ? {} : { region: r.region }),
        ...(r.verified === undefined ? {} : { verified: r.verified }),
      }),
    );

const numericArb = (lo: number, hi: number): fc.Arbitrary<NumericConstraint | undefined> =>
  fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: lo, max: hi }).map((exact) => ({ exact })),
    fc
      .tuple(
        fc.option(fc.integer({ min: lo, max: hi }), { nil: undefined }),
        fc.option(fc.integer({ min: lo, max: hi }), { nil: undefined }),
      )
      .map(([a, b]) => ({
        ...(a === undefined ? {} : { min: b === undefined ? a : Math.min(a, b) }),
        ...(b === undefined ? {} : { max: a === undefined ? b : Math.max(a, b) }),
      })),
  );

const requirementsArb = (provider: 'vastai' | 'runpod') =>
  fc
    .record({
      regions: fc.option(fc.subarray([...REGIONS], { minLength: 1 }), { nil: undefined }),
      gpuNames: fc.option(fc.subarray(GPUS, { minLength: 1 }), { nil: undefined }),
      gpuCount: numericArb(1, 4),
      cpuCores: numericArb(2, 64),
      pricePerHour: numericArb(0, 4),
      cudaMin: fc.option(fc.constantFrom('12.4', '12.9', '12.10'), { nil: undefined }),
      verifiedOnly: fc.boolean(),
      datacenterOnly: fc.boolean(),
      cloudTypes: fc.option(fc.subarray([...RUNPOD_CLOUD_TYPES], { minLength: 1 }), { nil: undefined }),
      dataCenterIds: fc.option(fc.shuffledSubarray(DCS, { minLength: 1 }), { nil: undefined }),
      keepGpuTypePriority: fc.boolean(),
    })
    .map((r): Requirements => {
      const numerics = { gpuCount: r.gpuCount, cpuCores: r.cpuCores, pricePerHour: r.pricePerHour };
      return {
        provider,
        ...Object.fromEntries(Object.entries(numerics).filter(([, v]) => v !== undefined)),
        ...(r.regions === undefined ? {} : { regions: r.regions }),
        ...(r.gpuNames === undefined ? {} : { gpuNames: r.gpuNames }),
        ...(r.cudaMin === undefined ? {} : { cuda: { min: r.cudaMin } }),
        diskToAllocateGb: 20,
        vastai: { verifiedOnly: r.verifiedOnly, datacenterOnly: r.datacenterOnly },
        runpod: {
          keepGpuTypePriority: r.keepGpuTypePriority,
          ...(r.cloudTypes === undefined ? {} : { cloudTypes: r.cloudTypes }),
          ...(r.dataCenterIds === undefined ? {} : { dataCenterIds: r.dataCenterIds }),
        },
        notes: [],
        warnings: [],
      };
    });

const bansArb = fc.array(
  fc.record({
    provider: fc.constant('vastai' as const),
    machineId: fc.constantFrom(...MACHINES),
    expiresAt: fc.integer({ min: NOW - 5, max: NOW + 5 }),
    reason: fc.constant('failed'),
    createdAt: fc.constant(NOW - 100),
  }),
  { maxLength: 3 },
);

/** An independent reading of three filters, straight from the requirements (no engine code). */
function within(value: number, c: NumericConstraint | undefined): boolean {
  if (c === undefined) return true;
  if ('exact' in c) return value === c.exact;
  return (c.min === undefined || value >= c.min) && (c.max === undefined || value <= c.max);
}
function oraclePasses(r: Requirements, o: Offer): boolean {
  const region = r.regions === undefined || (o.region !== undefined && r.regions.includes(o.region));
  return region && within(o.pricePerHour, r.pricePerHour) && within(o.gpuCount, r.gpuCount);
}

function checkEngine(requirements: Requirements, offers: Offer[], bans: Ban[]): void {
  const selected = select(requirements, offers, bans, NOW);
  const ctx = compileContext(requirements, bans, NOW);
  const rules = activeRules(ctx);
  const passes = (offer: Offer) => rules.every((rule) => rule.test(offer, ctx));
  const accepted = new Set(selected);
  // accepted ∪ rejected = input: each input offer is either selected or fails some rule, never both.
  expect(accepted.size).toBe(selected.length);
  for (const offer of offers) expect(accepted.has(offer)).toBe(passes(offer));
  for (const offer of selected) expect(offers).toContain(offer);
  // every accepted offer passes every rule; none is on an active ban
  for (const offer of selected) {
    expect(passes(offer)).toBe(true);
    expect(oraclePasses(requirements, offer)).toBe(true);
    const banned = bans.some(
      (b) => b.machineId === offer.machineId && b.expiresAt > NOW && offer.provider === 'vastai',
    );
    expect(banned).toBe(false);
  }
  // the order is non-decreasing in the sort key
  for (let i = 1; i < selected.length; i++) {
    const previous = rankKey(selected[i - 1] as Offer, ctx);
    expect(compareRankKeys(previous, rankKey(selected[i] as Offer, ctx))).toBeLessThanOrEqual(0);
  }
  // explain counts the same rules
  const explanation = explain(requirements, offers, bans, NOW);
  expect(explanation.matched).toBe(selected.length);
  expect(explanation.funnel.at(-1)?.remaining ?? offers.length).toBe(selected.length);
}

describe('select (properties)', () => {
  it.each(['vastai', 'runpod'] as const)('partitions, filters and orders %s offers correctly', (provider) => {
    fc.assert(
      fc.property(
        requirementsArb(provider),
        fc.array(offerArb(provider), { maxLength: 40 }),
        bansArb,
        (r, offers, bans) => {
          checkEngine(r, offers, bans);
        },
      ),
      { numRuns: 300 },
    );
  });
});
