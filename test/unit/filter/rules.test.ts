import { describe, expect, it } from 'vitest';
import type { Requirements } from '../../../lib/annotations/requirements.ts';
import { compileContext } from '../../../lib/filter/context.ts';
import { activeRules, type Rejection, rejection } from '../../../lib/filter/rules.ts';
import type { Offer } from '../../../lib/offers/offer.ts';
import {
  anOffer,
  aRunPodOffer,
  type OfferOverrides,
  someRequirements,
} from '../../support/offer-builders.ts';

const NOW = Date.parse('2026-11-26T12:00:00Z');

function rejections(requirements: Partial<Requirements>, offer: Offer): Rejection[] {
  const ctx = compileContext(someRequirements(requirements), [], NOW);
  return activeRules(ctx).flatMap((rule) => rejection(rule, offer, ctx) ?? []);
}

describe('filter rules, one at a time', () => {
  it.each<[string, Partial<Requirements>, OfferOverrides, Rejection[]]>([
    ['region in list', { regions: ['europe'] }, { region: 'europe' }, []],
    ['region: OR within the list', { regions: ['north-america', 'oceania'] }, { region: 'oceania' }, []],
    [
      'region outside the list',
      { regions: ['europe'] },
      { region: 'asia-pacific' },
      [{ filter: 'region', reason: 'region asia-pacific not in europe' }],
    ],
    [
      'region unknown',
      { regions: ['europe'] },
      { region: undefined, location: 'Atlantis' },
      [{ filter: 'region', reason: 'region unknown (location "Atlantis")' }],
    ],
    [
      'gpu-names through aliases',
      { gpuNames: ['RTX 4080 SUPER'] },
      { gpuName: 'RTX 4080S', gpuKey: 'rtx4080super' },
      [],
    ],
    [
      'gpu-names computed when the offer has no key',
      { gpuNames: ['rtx-4090'] },
      { gpuName: 'NVIDIA GeForce RTX 4090', gpuKey: undefined },
      [],
    ],
    ['gpu-names: OR within the list', { gpuNames: ['A100 PCIe', 'RTX 4090'] }, {}, []],
    [
      'gpu-names miss',
      { gpuNames: ['RTX 3090'] },
      {},
      [{ filter: 'gpu-names', reason: 'gpu "RTX 4090" not in RTX 3090' }],
    ],
    ['compute-cap in list', { computeCaps: ['8.6', '8.9'] }, { computeCap: '8.9' }, []],
    [
      'compute-cap miss',
      { computeCaps: ['8.6'] },
      { computeCap: '8.9' },
      [{ filter: 'compute-cap', reason: 'compute-cap 8.9 not in 8.6' }],
    ],
    [
      'compute-cap unknown',
      { computeCaps: ['8.6'] },
      { computeCap: undefined },
      [{ filter: 'compute-cap', reason: 'compute-cap unknown (the offer does not report it)' }],
    ],
    ['gpu-count exact', { gpuCount: { exact: 2 } }, { gpuCount: 2 }, []],
    [
      'gpu-count exact miss',
      { gpuCount: { exact: 2 } },
      { gpuCount: 1 },
      [{ filter: 'gpu-count', reason: 'gpu-count 1 != gpu-count 2' }],
    ],
    ['vram-min boundary is inclusive', { vramMb: { min: 24564 } }, { vramMb: 24564 }, []],
    [
      'vram-min, no hidden tolerance',
      { vramMb: { min: 24576 } },
      { vramMb: 24564 },
      [{ filter: 'vram', reason: 'vram 24564 MB < vram-min 24576 MB' }],
    ],
    [
      'vram-max',
      { vramMb: { max: 16384 } },
      { vramMb: 24564 },
      [{ filter: 'vram', reason: 'vram 24564 MB > vram-max 16384 MB' }],
    ],
    [
      'vram-total',
      { vramTotalMb: { min: 49152 } },
      { vramTotalMb: 49128 },
      [{ filter: 'vram-total', reason: 'vram-total 49128 MB < vram-total-min 49152 MB' }],
    ],
    [
      'vram-bandwidth',
      { vramBandwidthGBps: { min: 1000 } },
      { vramBandwidthGBps: 936 },
      [{ filter: 'vram-bandwidth', reason: 'vram-bandwidth 936 GB/s < vram-bandwidth-min 1000 GB/s' }],
    ],
    [
      'vram-bandwidth unknown',
      { vramBandwidthGBps: { min: 1 } },
      { vramBandwidthGBps: undefined },
      [{ filter: 'vram-bandwidth', reason: 'vram-bandwidth unknown (the offer does not report it)' }],
    ],
    [
      'tflops',
      { tflops: { min: 100 } },
      { tflops: 82.6 },
      [{ filter: 'tflops', reason: 'tflops 82.6 TFLOPS < tflops-min 100 TFLOPS' }],
    ],
    ['cuda 12.10 passes cuda-min 12.9', { cuda: { min: '12.9' } }, { cudaMax: '12.10' }, []],
    [
      'cuda 12.9 fails cuda-min 12.10',
      { cuda: { min: '12.10' } },
      { cudaMax: '12.9' },
      [{ filter: 'cuda', reason: 'cuda 12.9 < cuda-min 12.10' }],
    ],
    [
      'cuda-max',
      { cuda: { max: '12.4' } },
      { cudaMax: '12.10' },
      [{ filter: 'cuda', reason: 'cuda 12.10 > cuda-max 12.4' }],
    ],
    ['cuda exact', { cuda: { exact: '12.8' } }, { cudaMax: '12.8' }, []],
    [
      'cuda exact miss',
      { cuda: { exact: '12.8' } },
      { cudaMax: '12.9' },
      [{ filter: 'cuda', reason: 'cuda 12.9 != cuda 12.8' }],
    ],
    [
      'cpu',
      { cpuCores: { min: 8 } },
      { cpuCores: 6 },
      [{ filter: 'cpu', reason: 'cpu 6 cores < cpu-min 8 cores' }],
    ],
    [
      'ram',
      { ramMb: { min: 32768 } },
      { ramMb: 32767 },
      [{ filter: 'ram', reason: 'ram 32767 MB < ram-min 32768 MB' }],
    ],
    ['price-max boundary is inclusive', { pricePerHour: { max: 1.5 } }, { pricePerHour: 1.5 }, []],
    [
      'price-max',
      { pricePerHour: { max: 1.5 } },
      { pricePerHour: 1.5012 },
      [{ filter: 'price', reason: 'price 1.5012 USD/h > price-max 1.5 USD/h' }],
    ],
    [
      'upload-speed',
      { uploadMbps: { min: 1000 } },
      { uploadMbps: 800 },
      [{ filter: 'upload-speed', reason: 'upload-speed 800 Mbps < upload-speed-min 1000 Mbps' }],
    ],
    [
      'download-speed',
      { downloadMbps: { min: 1000 } },
      { downloadMbps: 920 },
      [{ filter: 'download-speed', reason: 'download-speed 920 Mbps < download-speed-min 1000 Mbps' }],
    ],
    [
      'disk-space-gb',
      { diskGb: { min: 600 } },
      { diskGb: 500 },
      [{ filter: 'disk-space-gb', reason: 'disk-space-gb 500 GB < disk-space-gb-min 600 GB' }],
    ],
    [
      'disk-bw',
      { diskBwMBps: { min: 3000 } },
      { diskBwMBps: 2500 },
      [{ filter: 'disk-bw', reason: 'disk-bw 2500 MB/s < disk-bw-min 3000 MB/s' }],
    ],
    [
      'verified-only',
      { vastai: { verifiedOnly: true } },
      { verified: false },
      [{ filter: 'verified-only', reason: 'machine is not verified' }],
    ],
    [
      'verified-only, unknown',
      { vastai: { verifiedOnly: true } },
      { verified: undefined },
      [{ filter: 'verified-only', reason: 'verification unknown' }],
    ],
    ['verified-only false lets anything in', { vastai: { verifiedOnly: false } }, { verified: false }, []],
    [
      'datacenter-only',
      { vastai: { verifiedOnly: false, datacenterOnly: true } },
      { datacenter: false },
      [{ filter: 'datacenter-only', reason: 'machine is not datacenter hardware' }],
    ],
    [
      'dlperf',
      { vastai: { verifiedOnly: false, dlperf: { min: 80 } } },
      { dlperf: 70 },
      [{ filter: 'dlperf', reason: 'dlperf 70 < dlperf-min 80' }],
    ],
    [
      'reliability-min',
      { vastai: { verifiedOnly: false, reliabilityMin: 0.98 } },
      { reliability: 0.9799 },
      [{ filter: 'reliability-min', reason: 'reliability 0.9799 < reliability-min 0.98' }],
    ],
    [
      'reliability-min boundary is inclusive',
      { vastai: { verifiedOnly: false, reliabilityMin: 0.98 } },
      { reliability: 0.98 },
      [],
    ],
    [
      'reliability-min, unknown',
      { vastai: { verifiedOnly: false, reliabilityMin: 0.5 } },
      { reliability: undefined },
      [{ filter: 'reliability-min', reason: 'reliability unknown (the offer does not report it)' }],
    ],
    [
      'AND across filters: every failing filter is reported',
      { regions: ['europe'], gpuCount: { min: 2 }, pricePerHour: { max: 0.3 } },
      { region: 'oceania' },
      [
        { filter: 'region', reason: 'region oceania not in europe' },
        { filter: 'gpu-count', reason: 'gpu-count 1 < gpu-count-min 2' },
        { filter: 'price', reason: 'price 0.4 USD/h > price-max 0.3 USD/h' },
      ],
    ],
  ])('%s', (_name, requirements, offer, expected) => {
    expect(rejections(requirements, anOffer(offer))).toEqual(expected);
  });

  it.each<[string, Partial<Requirements['runpod']>, OfferOverrides, Rejection[]]>([
    ['cloud-type in list', { cloudTypes: ['SECURE', 'COMMUNITY'] }, { cloudType: 'COMMUNITY' }, []],
    [
      'cloud-type miss',
      { cloudTypes: ['SECURE'] },
      { cloudType: 'COMMUNITY' },
      [{ filter: 'cloud-type', reason: 'cloud COMMUNITY not in SECURE' }],
    ],
    ['datacenter-ids in list', { dataCenterIds: ['EU-RO-1', 'US-CA-2'] }, { dataCenterId: 'US-CA-2' }, []],
    [
      'datacenter-ids miss',
      { dataCenterIds: ['EU-RO-1'] },
      { dataCenterId: 'US-TX-3' },
      [{ filter: 'datacenter-ids', reason: 'data center US-TX-3 not in EU-RO-1' }],
    ],
  ])('RunPod %s', (_name, runpod, offer, expected) => {
    const requirements = { provider: 'runpod' as const, runpod: { keepGpuTypePriority: false, ...runpod } };
    expect(rejections(requirements, aRunPodOffer(offer))).toEqual(expected);
  });

  it('applies no Vast rule to a RunPod pod and no RunPod rule to a Vast pod', () => {
    const vastOnly = { vastai: { verifiedOnly: true, datacenterOnly: true, dlperf: { min: 1000 } } };
    expect(rejections({ provider: 'runpod', ...vastOnly }, aRunPodOffer({ verified: false }))).toEqual([]);
    const runpodOnly = {
      runpod: { keepGpuTypePriority: true, cloudTypes: ['SECURE' as const], dataCenterIds: ['X'] },
    };
    expect(rejections(runpodOnly, anOffer())).toEqual([]);
  });
});
