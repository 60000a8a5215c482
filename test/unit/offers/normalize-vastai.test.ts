import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import {
  computeCapOf,
  countryOfGeolocation,
  cudaOf,
  normalizeVastSearch,
} from '../../../lib/offers/normalize/vastai.ts';

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/providers/vastai-bundles.json', import.meta.url), 'utf8'),
);

// The first sample row of providers.md §2.15, as Vast returns it.
const sampleRow = {
  id: 41000123,
  ask_contract_id: 41000123,
  bundle_id: 902211,
  machine_id: 30511,
  host_id: 8812,
  num_gpus: 1,
  gpu_frac: 0.25,
  gpu_name: 'RTX 4090',
  gpu_arch: 'nvidia',
  compute_cap: 890,
  gpu_ram: 24564,
  gpu_total_ram: 24564,
  gpu_mem_bw: 912.4,
  total_flops: 82.1,
  dlperf: 71.3,
  dlperf_per_dphtotal: 187.6,
  cuda_max_good: 12.8,
  driver_version: '570.86.10',
  cpu_name: 'AMD EPYC 7543',
  cpu_cores: 64,
  cpu_cores_effective: 16.0,
  cpu_ram: 257700,
  disk_space: 412.0,
  disk_bw: 2650.0,
  inet_up: 880.5,
  inet_down: 1710.2,
  dph_base: 0.36,
  dph_total: 0.3801,
  min_bid: 0.21,
  storage_cost: 0.15,
  reliability: 0.9963,
  rentable: true,
  rented: false,
  verification: 'verified',
  vericode: 1,
  hosting_type: 0,
  geolocation: 'Texas, US',
  search: { totalHour: 0.3801, gpuCostPerHour: 0.36, diskHour: 0.0201 },
};

describe('normalizeVastSearch', () => {
  it('turns a raw offer into the Offer model, units as the seed has them', () => {
    expect(normalizeVastSearch({ offers: [sampleRow] })).toStrictEqual([
      {
        provider: 'vastai',
        offerId: '41000123',
        machineId: '30511',
        hostId: '8812',
        gpuName: 'RTX 4090',
        gpuKey: 'rtx4090',
        gpuCount: 1,
        vramMb: 24564,
        vramTotalMb: 24564,
        vramBandwidthGBps: 912.4,
        tflops: 82.1,
        computeCap: '8.9',
        cudaMax: '12.8',
        cpuCores: 16,
        // cpu_ram is the host's; a quarter of the GPUs (gpu_frac 0.25) gets a quarter (vast audit #6).
        ramMb: 64425,
        pricePerHour: 0.3801,
        uploadMbps: 880.5,
        downloadMbps: 1710.2,
        diskGb: 412,
        diskBwMBps: 2650,
        dlperf: 71.3,
        reliability: 0.9963,
        location: 'Texas, US',
        countryCode: 'US',
        region: 'north-america',
        verified: true,
        datacenter: false,
      },
    ]);
  });

  // vast audit #6: cpu_ram is the host total; the instance gets its GPU share (docs
  // docker-environment.mdx), read from gpu_frac, else cpu_cores_effective / cpu_cores (gpuhunt vastai.py).
  it.each([
    ['gpu_frac 0.25 of a 256000 MB host', { gpu_frac: 0.25, cpu_cores: 64, cpu_cores_effective: 16 }, 64000],
    ['the whole machine (gpu_frac 1)', { gpu_frac: 1 }, 256000],
    ['no gpu_frac: the core share 8/32', { cpu_cores: 32, cpu_cores_effective: 8 }, 64000],
    [
      'gpu_frac out of range: the core share',
      { gpu_frac: 2, cpu_cores: 32, cpu_cores_effective: 16 },
      128000,
    ],
    ['a fractional share rounds down', { gpu_frac: 1 / 3 }, 85333],
    ['no share reported: unknown, not the host total', { cpu_cores: 0, cpu_cores_effective: 4 }, undefined],
  ])('ramMb: %s → %s', (_name, fields, ramMb) => {
    const [offer] = normalizeVastSearch({
      offers: [{ ...sampleRow, gpu_frac: null, cpu_cores: null, cpu_ram: 256000, ...fields }],
    });
    expect(offer?.ramMb).toBe(ramMb);
  });

  it.each([
    ['reliability', { reliability: 0.97, reliability2: 0.5 }, 0.97],
    ['reliability2 (its alias) when reliability is absent', { reliability: null, reliability2: 0.91 }, 0.91],
    ['neither', { reliability: null }, undefined],
  ])('reliability from %s', (_name, fields, reliability) => {
    const [offer] = normalizeVastSearch({ offers: [{ ...sampleRow, ...fields }] });
    expect(offer?.reliability).toBe(reliability);
  });

  it('tolerates nulls and missing optional fields, leaving them unknown', () => {
    const [offer] = normalizeVastSearch({
      offers: [
        {
          id: 7,
          machine_id: 8,
          num_gpus: 2,
          gpu_name: 'RTX 3090',
          gpu_ram: 24576,
          dph_total: 0.5,
          geolocation: null,
          cpu_ram: null,
        },
      ],
    });
    expect(offer).toStrictEqual({
      provider: 'vastai',
      offerId: '7',
      machineId: '8',
      gpuName: 'RTX 3090',
      gpuKey: 'rtx3090',
      gpuCount: 2,
      vramMb: 24576,
      vramTotalMb: 49152,
      pricePerHour: 0.5,
    });
  });

  it.each([
    [
      { verification: 'verified', hosting_type: 1 },
      { verified: true, datacenter: true },
    ],
    [
      { verification: 'unverified', hosting_type: 0 },
      { verified: false, datacenter: false },
    ],
    [
      { verification: 'deverified', hosting_type: 2 },
      { verified: false, datacenter: false },
    ],
    [{ vericode: 1 }, { verified: true }],
  ])('maps trust fields %j → %j', (fields, expected) => {
    const [offer] = normalizeVastSearch({
      offers: [
        { ...sampleRow, verification: undefined, hosting_type: undefined, vericode: undefined, ...fields },
      ],
    });
    expect({ verified: offer?.verified, datacenter: offer?.datacenter }).toEqual({
      datacenter: undefined,
      ...expected,
    });
  });

  it('names the offending offer and field when a required one is missing', () => {
    const broken = { offers: [sampleRow, { ...sampleRow, gpu_ram: undefined }] };
    expect(() => normalizeVastSearch(broken, 'saved.json')).toThrowError(AnexError);
    expect(() => normalizeVastSearch(broken, 'saved.json')).toThrowError(
      /^saved\.json is not a Vast\.AI search response: offers\.1\.gpu_ram: /,
    );
    expect(() => normalizeVastSearch({ bundles: [] })).toThrowError(/offers: /);
  });

  it('normalizes every offer of the saved fixture', () => {
    const offers = normalizeVastSearch(fixture);
    expect(offers).toHaveLength(34);
    expect(offers.filter((o) => o.region === undefined).map((o) => o.offerId)).toEqual(['41002550']);
  });
});

describe('Vast field conversions', () => {
  it.each([
    [750, '7.5'],
    [860, '8.6'],
    [890, '8.9'],
    [900, '9.0'],
    [1000, '10.0'],
    [1200, '12.0'],
  ])('compute_cap %d → %s', (raw, expected) => {
    expect(computeCapOf(raw)).toBe(expected);
  });

  it.each([
    [12.8, '12.8'],
    [13, '13.0'],
    [11.8, '11.8'],
    ['12.4', '12.4'],
    ['12', '12.0'],
    ['n/a', undefined],
  ])('cuda_max_good %j → %j', (raw, expected) => {
    expect(cudaOf(raw)).toBe(expected);
  });

  it.each([
    ['Texas, US', 'US'],
    ['Sweden, SE', 'SE'],
    ['Yutakachō, Shinagawa District, Tokyo, JP', 'JP'],
    ['DE', 'DE'],
    ['  Lyon , fr ', 'FR'],
    ['Somewhere', undefined],
    [null, undefined],
  ])('geolocation %j → %j', (raw, expected) => {
    expect(countryOfGeolocation(raw)).toBe(expected);
  });
});
