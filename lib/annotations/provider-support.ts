import type { ProviderName } from '../offers/offer.ts';
import { SHARED_PREFIX } from './keys.ts';

/**
 * Shared filters a provider cannot honour, decided per field from providers.md §3.1, §3.5
 * and §4, so such a pod is refused with the reason instead of waiting forever (an offer
 * that does not report a field never matches it) or being placed on a machine that breaks
 * the constraint. RunPod: REST v2 is the API anex uses (v1 retired 2026-11-15; GraphQL is
 * retiring); its catalog (`GET /v2/catalog/gpus`, `/v2/catalog/datacenters`) reports per GPU
 * type only name, memory, price, max count, availability and CUDA versions; its pod create
 * takes vCPU and RAM floors per GPU (`gpu.minVcpuCountPerGpu`, `minRamPerGpu`: create-a-pod.mdx
 * at 4962c60; runpod audit #12) but no maximum, and no network or disk-bandwidth minimum.
 *
 * Honoured on RunPod, for contrast: compute-cap, vram-bandwidth and tflops come from the GPU
 * spec table (lib/offers/gpu-specs.ts); cuda from the catalog's `cudaVersions` and create's
 * `minCudaVersion`; disk-space-gb sizes the container disk at create.
 */
const UNSUPPORTED: Readonly<Record<ProviderName, Readonly<Record<string, string>>>> = {
  vastai: {},
  runpod: {
    // §4 "no v2 equivalent"; GraphQL's minUpload/minDownload only narrow a price quote.
    'upload-speed': 'its API neither reports upload speed nor accepts an upload minimum on create',
    'download-speed': 'its API neither reports download speed nor accepts a download minimum on create',
    // §4 "no v2 or GraphQL create equivalent found"; only the retired v1 had minDiskBandwidthMBps.
    'disk-bw': 'its API neither reports disk bandwidth nor accepts a disk-bandwidth minimum on create',
  },
};

/**
 * Shared filters a provider honours only as a minimum (RunPod places on a vCPU / RAM floor at
 * create and reports neither): `<base>-min` is honoured; the exact form and `-max` are refused.
 */
const MIN_ONLY: Readonly<Record<ProviderName, Readonly<Record<string, string>>>> = {
  vastai: {},
  runpod: {
    cpu: 'its create takes a vCPU floor per GPU but no ceiling, and its API reports no vCPUs per GPU type; use anex.sh/cpu-min',
    ram: 'its create takes a RAM floor per GPU but no ceiling, and its API reports no RAM per GPU type; use anex.sh/ram-min',
  },
};

const PROVIDER_TITLES: Readonly<Record<ProviderName, string>> = { vastai: 'Vast.AI', runpod: 'RunPod' };

/** Human name of a provider for messages. */
export function providerTitle(provider: ProviderName): string {
  return PROVIDER_TITLES[provider];
}

/**
 * Errors for every present key of a shared family the provider cannot honour, e.g.
 * `anex.sh/disk-bw-min: RunPod cannot honour this constraint (…); remove it or use node-provider: vastai`.
 */
export function unsupportedKeyErrors(provider: ProviderName, presentKeys: readonly string[]): string[] {
  const reasons = UNSUPPORTED[provider];
  const other: ProviderName = provider === 'vastai' ? 'runpod' : 'vastai';
  const errors: string[] = [];
  for (const key of presentKeys) {
    if (!key.startsWith(SHARED_PREFIX)) continue;
    const base = key.slice(SHARED_PREFIX.length).replace(/-(min|max)$/, '');
    const minOnly = MIN_ONLY[provider][base];
    const reason = reasons[base] ?? (minOnly !== undefined && !key.endsWith('-min') ? minOnly : undefined);
    if (reason === undefined) continue;
    errors.push(
      `${key}: ${providerTitle(provider)} cannot honour this constraint (${reason}); remove it, or run the pod on ${providerTitle(other)} (node-provider: ${other})`,
    );
  }
  return errors;
}
