import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  countryOfDataCenter,
  highestAvailableCuda,
  normalizeRunPodCatalog,
} from '../../../lib/offers/normalize/runpod.ts';

const read = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../fixtures/providers/${name}`, import.meta.url), 'utf8'));

function aGpuType(overrides: Record<string, unknown> = {}) {
  return {
    id: 'NVIDIA GeForce RTX 4090',
    name: 'RTX 4090',
    pool: 'ADA_24',
    manufacturer: 'NVIDIA',
    memory: 24,
    secure: true,
    community: true,
    price: { secure: 0.69, community: 0.34 },
    maxCount: { secure: 2, community: 3 },
    availability: 'MEDIUM',
    dataCenters: [{ id: 'US-TX-3', name: 'US Texas 3', availability: 'MEDIUM' }],
    cudaVersions: [
      { version: '12.8', available: true },
      { version: '13.0', available: false },
    ],
    ...overrides,
  };
}

describe('normalizeRunPodCatalog', () => {
  it('expands GPU type × cloud × data center × count, pricing per GPU × count', () => {
    const offers = normalizeRunPodCatalog({ gpus: { gpus: [aGpuType()] } });
    expect(offers.map((o) => [o.offerId, o.pricePerHour])).toEqual([
      ['NVIDIA GeForce RTX 4090|SECURE|US-TX-3|1', 0.69],
      ['NVIDIA GeForce RTX 4090|SECURE|US-TX-3|2', 1.38],
      ['NVIDIA GeForce RTX 4090|COMMUNITY|US-TX-3|1', 0.34],
      ['NVIDIA GeForce RTX 4090|COMMUNITY|US-TX-3|2', 0.68],
      ['NVIDIA GeForce RTX 4090|COMMUNITY|US-TX-3|3', 1.02],
    ]);
  });

  it('fills the Offer from the catalog and the GPU spec table', () => {
    const [, two] = normalizeRunPodCatalog({ gpus: { gpus: [aGpuType()] } });
    expect(two).toStrictEqual({
      provider: 'runpod',
      offerId: 'NVIDIA GeForce RTX 4090|SECURE|US-TX-3|2',
      gpuName: 'RTX 4090',
      gpuKey: 'rtx4090',
      gpuTypeId: 'NVIDIA GeForce RTX 4090',
      gpuCount: 2,
      vramMb: 24576,
      vramTotalMb: 49152,
      vramBandwidthGBps: 1008,
      tflops: 165.2,
      computeCap: '8.9',
      cudaMax: '12.8',
      pricePerHour: 1.38,
      location: 'US Texas 3',
      datacenter: true,
      cloudType: 'SECURE',
      dataCenterId: 'US-TX-3',
      stock: 'MEDIUM',
      region: 'north-america',
      countryCode: 'US',
    });
  });

  it('takes regions from the data-center list, MIDDLE_EAST as asia-pacific', () => {
    const gpus = {
      gpus: [
        aGpuType({
          maxCount: { secure: 1, community: 0 },
          dataCenters: [
            { id: 'AE-DXB-1', name: 'AE Dubai 1', availability: 'LOW' },
            { id: 'EU-RO-1', name: 'EU Romania 1', availability: 'HIGH' },
            { id: 'XX-1', name: 'Mystery', availability: 'HIGH' },
          ],
        }),
      ],
    };
    const dataCenters = {
      dataCenters: [
        { id: 'AE-DXB-1', name: 'AE Dubai 1', region: 'MIDDLE_EAST' },
        { id: 'EU-RO-1', name: 'EU Romania 1', region: 'EUROPE' },
      ],
    };
    const offers = normalizeRunPodCatalog({ gpus, dataCenters });
    expect(offers.map((o) => [o.dataCenterId, o.region])).toEqual([
      ['AE-DXB-1', 'asia-pacific'],
      ['EU-RO-1', 'europe'],
      ['XX-1', undefined],
    ]);
  });

  it('skips data centers without stock and tiers that are not sold', () => {
    const gpu = aGpuType({
      community: false,
      price: { secure: 0.69, community: 0 },
      dataCenters: [
        { id: 'US-TX-3', name: 'US Texas 3', availability: 'NONE' },
        { id: 'EU-SE-1', name: 'EU Sweden 1', availability: 'LOW' },
      ],
    });
    expect(normalizeRunPodCatalog({ gpus: { gpus: [gpu] } }).map((o) => o.offerId)).toEqual([
      'NVIDIA GeForce RTX 4090|SECURE|EU-SE-1|1',
      'NVIDIA GeForce RTX 4090|SECURE|EU-SE-1|2',
    ]);
    expect(normalizeRunPodCatalog({ gpus: { gpus: [aGpuType({ dataCenters: undefined })] } })).toEqual([]);
  });

  it('expands only the tier the list was requested with, when told', () => {
    const offers = normalizeRunPodCatalog({ gpus: { gpus: [aGpuType()] }, cloud: 'COMMUNITY' });
    expect(new Set(offers.map((o) => o.cloudType))).toEqual(new Set(['COMMUNITY']));
  });

  it('names the field when the response does not fit the schema', () => {
    expect(() => normalizeRunPodCatalog({ gpus: { gpus: 'none' } }, 'gpus.json')).toThrowError(
      /^gpus\.json is not a RunPod GPU list: gpus: /,
    );
    expect(() =>
      normalizeRunPodCatalog({ gpus: { gpus: [] }, dataCenters: { dataCenters: [{ id: 'X' }] } }),
    ).toThrowError(/is not a RunPod data-center list: dataCenters\.0\.name: /);
  });

  // runpod audit #14: one row anex cannot read never costs the whole catalog. Rows seen live:
  // the `unknown` sentinel (0 GB, $0, both cloud flags false; [3P] pitwall), a new enum value.
  it.each([
    ['a mistyped field', aGpuType({ id: 'odd-1', memory: '24GB' }), 'odd-1', 'memory'],
    [
      'the unknown sentinel without a name',
      aGpuType({ id: 'unknown', name: '', memory: 0 }),
      'unknown',
      'name',
    ],
    [
      'an availability value newer than anex',
      aGpuType({ id: 'odd-2', dataCenters: [{ id: 'US-TX-3', name: 'x', availability: 'VERY_HIGH' }] }),
      'odd-2',
      'dataCenters.0.availability',
    ],
  ])('skips a row with %s, says which and why, and keeps the others', (_name, row, id, field) => {
    const said: string[] = [];
    const offers = normalizeRunPodCatalog(
      { gpus: { gpus: [row, aGpuType()] }, onOddRow: (m) => said.push(m) },
      'gpus.json',
    );
    expect(offers.length).toBeGreaterThan(0);
    expect(offers.every((o) => o.gpuTypeId === 'NVIDIA GeForce RTX 4090')).toBe(true);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(`gpus.json: skipped GPU type "${id}": ${field}: `);
  });

  it('offers only the GPU count the catalog was read for, within the tier ceiling (runpod audit #4)', () => {
    const offers = normalizeRunPodCatalog({ gpus: { gpus: [aGpuType()] }, count: 3 });
    // maxCount is a ceiling: SECURE stops at 2, so only COMMUNITY offers 3 GPUs.
    expect(offers.map((o) => o.offerId)).toEqual(['NVIDIA GeForce RTX 4090|COMMUNITY|US-TX-3|3']);
  });

  it('normalizes the saved fixtures: 240 offers, every one with a known region', () => {
    const offers = normalizeRunPodCatalog({
      gpus: read('runpod-gpus.json'),
      dataCenters: read('runpod-datacenters.json'),
    });
    expect(offers).toHaveLength(240);
    expect(offers.every((o) => o.region !== undefined)).toBe(true);
  });
});

describe('RunPod field conversions', () => {
  it.each([
    ['US-TX-3', 'US'],
    ['US-CA-2', 'US'],
    ['CA-MTL-1', 'CA'],
    ['EU-RO-1', 'RO'],
    ['EUR-IS-1', 'IS'],
    ['AP-JP-1', 'JP'],
    ['SEA-SG-1', 'SG'],
    ['OC-AU-1', 'AU'],
    ['EU-NORTH', undefined],
  ])('data center %s is in country %s', (id, country) => {
    expect(countryOfDataCenter(id)).toBe(country);
  });

  it('picks the highest available CUDA version as a version (12.10 > 12.9)', () => {
    expect(
      highestAvailableCuda([
        { version: '12.9', available: true },
        { version: '12.10', available: true },
        { version: '13.0', available: false },
      ]),
    ).toBe('12.10');
    expect(highestAvailableCuda(undefined)).toBeUndefined();
  });
});
