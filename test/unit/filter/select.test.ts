import { describe, expect, it } from 'vitest';
import { compareOfferIds } from '../../../lib/filter/rank.ts';
import { select } from '../../../lib/filter/select.ts';
import { aBan, anOffer, aRunPodOffer, someRequirements } from '../../support/offer-builders.ts';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const ids = (offers: readonly { offerId: string }[]) => offers.map((o) => o.offerId);

describe('select: ordering', () => {
  it('ranks by price ascending', () => {
    const offers = [
      anOffer({ offerId: '3', pricePerHour: 0.9 }),
      anOffer({ offerId: '1', pricePerHour: 0.5 }),
      anOffer({ offerId: '2', pricePerHour: 0.7 }),
    ];
    expect(ids(select(someRequirements(), offers, [], NOW))).toEqual(['1', '2', '3']);
  });

  it('breaks price ties by offer id, numerically for Vast ids', () => {
    const offers = ['41000555', '9800123', '100', '41000554'].map((offerId) =>
      anOffer({ offerId, pricePerHour: 0.95 }),
    );
    expect(ids(select(someRequirements(), offers, [], NOW))).toEqual([
      '100',
      '9800123',
      '41000554',
      '41000555',
    ]);
  });

  it.each([
    ['9', '10', -1],
    ['10', '9', 1],
    ['41000554', '41000555', -1],
    ['a|SECURE|EU-CZ-1|2', 'a|SECURE|EUR-IS-1|2', -1],
    ['b', 'a', 1],
    ['7', '7', 0],
  ])('compareOfferIds(%s, %s) has sign %d', (a, b, sign) => {
    expect(Math.sign(compareOfferIds(a, b))).toBe(sign);
  });

  it('does not modify the input list', () => {
    const offers = [anOffer({ pricePerHour: 2 }), anOffer({ pricePerHour: 1 })];
    const before = [...offers];
    select(someRequirements(), offers, [], NOW);
    expect(offers).toEqual(before);
  });

  it('returns nothing, not an error, when nothing matches', () => {
    expect(select(someRequirements({ regions: ['africa'] }), [anOffer()], [], NOW)).toEqual([]);
  });
});

describe('select: bans (Vast machines)', () => {
  const offers = [
    anOffer({ offerId: '1', machineId: '30511', pricePerHour: 0.3 }),
    anOffer({ offerId: '2', machineId: '30512', pricePerHour: 0.5 }),
  ];

  it.each([
    ['skips a machine banned until after now', NOW + 1, ['2']],
    ['lets a machine in again once the ban expired', NOW - 1, ['1', '2']],
    ['treats expiresAt == now as expired', NOW, ['1', '2']],
  ])('%s', (_name, expiresAt, expected) => {
    expect(ids(select(someRequirements(), offers, [aBan('30511', expiresAt)], NOW))).toEqual(expected);
  });

  it('ignores bans of the other provider', () => {
    const ban = { ...aBan('30511', NOW + 60_000), provider: 'runpod' as const };
    expect(ids(select(someRequirements(), offers, [ban], NOW))).toEqual(['1', '2']);
  });
});

describe('select: RunPod priorities', () => {
  const offers = [
    aRunPodOffer({
      gpuName: 'RTX 3090',
      gpuTypeId: 'NVIDIA GeForce RTX 3090',
      dataCenterId: 'EU-RO-1',
      pricePerHour: 0.46,
    }),
    aRunPodOffer({
      gpuName: 'RTX 3090',
      gpuTypeId: 'NVIDIA GeForce RTX 3090',
      dataCenterId: 'US-CA-2',
      pricePerHour: 0.44,
    }),
    aRunPodOffer({
      gpuName: 'RTX 4090',
      gpuTypeId: 'NVIDIA GeForce RTX 4090',
      dataCenterId: 'EU-RO-1',
      pricePerHour: 0.69,
    }),
    aRunPodOffer({
      gpuName: 'RTX 4090',
      gpuTypeId: 'NVIDIA GeForce RTX 4090',
      dataCenterId: 'US-CA-2',
      pricePerHour: 0.59,
    }),
  ];
  const runpod = (extra: object = {}) =>
    someRequirements({
      provider: 'runpod',
      gpuNames: ['RTX 4090', 'RTX 3090'],
      runpod: { keepGpuTypePriority: false, ...extra },
    });
  const short = (list: readonly { gpuName: string; dataCenterId?: string }[]) =>
    list.map((o) => `${o.gpuName}@${o.dataCenterId}`);

  it('ranks by price alone without priorities', () => {
    expect(short(select(runpod(), offers, [], NOW))).toEqual([
      'RTX 3090@US-CA-2',
      'RTX 3090@EU-RO-1',
      'RTX 4090@US-CA-2',
      'RTX 4090@EU-RO-1',
    ]);
  });

  it('puts the datacenter-ids list position before price', () => {
    expect(short(select(runpod({ dataCenterIds: ['EU-RO-1', 'US-CA-2'] }), offers, [], NOW))).toEqual([
      'RTX 3090@EU-RO-1',
      'RTX 4090@EU-RO-1',
      'RTX 3090@US-CA-2',
      'RTX 4090@US-CA-2',
    ]);
  });

  it('puts the gpu-names position first of all with keep-gpu-type-priority', () => {
    expect(short(select(runpod({ keepGpuTypePriority: true }), offers, [], NOW))).toEqual([
      'RTX 4090@US-CA-2',
      'RTX 4090@EU-RO-1',
      'RTX 3090@US-CA-2',
      'RTX 3090@EU-RO-1',
    ]);
  });

  it('orders by GPU priority, then data center, then price when both are set', () => {
    const requirements = runpod({ keepGpuTypePriority: true, dataCenterIds: ['US-CA-2', 'EU-RO-1'] });
    expect(short(select(requirements, offers, [], NOW))).toEqual([
      'RTX 4090@US-CA-2',
      'RTX 4090@EU-RO-1',
      'RTX 3090@US-CA-2',
      'RTX 3090@EU-RO-1',
    ]);
  });

  it('ignores keep-gpu-type-priority for Vast pods', () => {
    const requirements = someRequirements({
      gpuNames: ['RTX 4090', 'RTX 3090'],
      runpod: { keepGpuTypePriority: true },
    });
    const vast = [
      anOffer({ gpuName: 'RTX 4090', gpuKey: 'rtx4090', pricePerHour: 0.5 }),
      anOffer({ gpuName: 'RTX 3090', gpuKey: 'rtx3090', pricePerHour: 0.4 }),
    ];
    expect(select(requirements, vast, [], NOW).map((o) => o.gpuName)).toEqual(['RTX 3090', 'RTX 4090']);
  });
});
