import type { Requirements } from '../../lib/annotations/requirements.ts';
import { gpuKey } from '../../lib/offers/gpu-names.ts';
import type { Offer } from '../../lib/offers/offer.ts';
import type { Ban } from '../../lib/state/store.ts';

/** Builders for filter-engine tests: a plausible default, overridden per test. */

let nextId = 1000;

/** Overrides where `undefined` removes the field (an offer that does not report it). */
export type OfferOverrides = { [K in keyof Offer]?: Offer[K] | undefined };

function withoutUndefined(offer: Record<string, unknown>): Offer {
  for (const key of Object.keys(offer)) if (offer[key] === undefined) delete offer[key];
  return offer as unknown as Offer;
}

/** A verified datacenter 1x RTX 4090 in Germany on Vast, $0.40/h, unless overridden. */
export function anOffer(overrides: OfferOverrides = {}): Offer {
  const gpuName = overrides.gpuName ?? 'RTX 4090';
  const gpuCount = overrides.gpuCount ?? 1;
  const vramMb = overrides.vramMb ?? 24564;
  const id = String(nextId++);
  return withoutUndefined({
    provider: 'vastai',
    offerId: id,
    machineId: `m${id}`,
    gpuName,
    gpuKey: gpuKey(gpuName),
    gpuCount,
    vramMb,
    vramTotalMb: vramMb * gpuCount,
    vramBandwidthGBps: 1008,
    tflops: 82.6 * gpuCount,
    computeCap: '8.9',
    cudaMax: '12.8',
    cpuCores: 16,
    ramMb: 65536,
    pricePerHour: 0.4,
    uploadMbps: 800,
    downloadMbps: 1500,
    diskGb: 500,
    diskBwMBps: 2500,
    region: 'europe',
    countryCode: 'DE',
    location: 'Frankfurt, DE',
    verified: true,
    datacenter: true,
    dlperf: 70,
    ...overrides,
  });
}

/** A RunPod offer: GPU type × cloud × data center × count, id in the normalizer's form. */
export function aRunPodOffer(overrides: OfferOverrides = {}): Offer {
  const cloudType = overrides.cloudType ?? 'SECURE';
  const dataCenterId = overrides.dataCenterId ?? 'EU-RO-1';
  const gpuCount = overrides.gpuCount ?? 1;
  const gpuTypeId = overrides.gpuTypeId ?? 'NVIDIA GeForce RTX 4090';
  const { machineId: _machine, ...base } = anOffer({ gpuName: 'RTX 4090', vramMb: 24576, ...overrides });
  return withoutUndefined({
    ...base,
    provider: 'runpod',
    offerId: `${gpuTypeId}|${cloudType}|${dataCenterId}|${gpuCount}`,
    gpuTypeId,
    cloudType,
    dataCenterId,
    datacenter: cloudType === 'SECURE',
    ...overrides,
  });
}

/** Requirements with nothing asked for (every field "any"), unless overridden. */
export function someRequirements(overrides: Partial<Requirements> = {}): Requirements {
  return {
    provider: 'vastai',
    diskToAllocateGb: 20,
    vastai: { verifiedOnly: false },
    runpod: { keepGpuTypePriority: false },
    notes: [],
    warnings: [],
    ...overrides,
  };
}

export function aBan(machineId: string, expiresAt: number): Ban {
  return {
    provider: 'vastai',
    machineId,
    expiresAt,
    reason: 'failed to start',
    createdAt: expiresAt - 3_600_000,
  };
}
