/**
 * The one offer model both providers' listings are normalized into (lib/offers/*-normalize).
 * Units are converted once, in the normalizers, to the seed's units (seed-annotations.md):
 * MB, GB/s, TFLOPS, cores, USD/hour for the whole machine, Mbps, GB, MB/s.
 *
 * A field the provider does not report is `undefined`; an unknown value never satisfies
 * a filter on that field (the filter engine rejects it and `explain` says "unknown").
 */
export const PROVIDERS = ['vastai', 'runpod'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const REGIONS = [
  'europe',
  'north-america',
  'asia-pacific',
  'africa',
  'south-america',
  'oceania',
] as const;
export type Region = (typeof REGIONS)[number];

export const RUNPOD_CLOUD_TYPES = ['SECURE', 'COMMUNITY'] as const;
export type RunPodCloudType = (typeof RUNPOD_CLOUD_TYPES)[number];

export interface Offer {
  provider: ProviderName;
  /**
   * The provider's offer id as a string. Vast: the ask `id` (passed to `PUT /asks/{id}/`).
   * RunPod: a stable key `<gpuTypeId>|<cloudType>|<dataCenterId>|<gpuCount>`.
   */
  offerId: string;
  /** Vast `machine_id` (the unit of bans); RunPod: undefined (known only after create). */
  machineId?: string;
  /** Vast `host_id`. */
  hostId?: string;
  /** GPU model as the provider spells it (Vast `gpu_name`, RunPod `name`). */
  gpuName: string;
  /**
   * `gpuKey(gpuName)` (lib/offers/gpu-names.ts), filled in by the normalizers so the filter
   * engine never folds names per offer. When absent the engine computes it.
   */
  gpuKey?: string;
  /** RunPod GPU type id used for create (e.g. "NVIDIA GeForce RTX 4090"). */
  gpuTypeId?: string;
  gpuCount: number;
  /** MB per GPU (Vast: driver-reported, e.g. 24564; RunPod: GB × 1024). */
  vramMb: number;
  /** MB across all GPUs of the offer. */
  vramTotalMb: number;
  /** GB/s per GPU. */
  vramBandwidthGBps?: number;
  /** TFLOPS summed over the offer's GPUs. */
  tflops?: number;
  /** CUDA compute capability as "major.minor" (Vast 860 → "8.6"). */
  computeCap?: string;
  /** Highest CUDA version the host supports, "major.minor". */
  cudaMax?: string;
  /** vCPUs the renter gets. */
  cpuCores?: number;
  /**
   * System RAM in MB the renter gets. Vast: the offer's share of the host's `cpu_ram`
   * (lib/offers/normalize/vastai.ts), not the host total.
   */
  ramMb?: number;
  /** USD per hour for the whole offer (Vast `dph_total` incl. storage; RunPod per-GPU × count). */
  pricePerHour: number;
  uploadMbps?: number;
  downloadMbps?: number;
  /** GB of disk available to allocate. */
  diskGb?: number;
  /** Disk bandwidth, MB/s. */
  diskBwMBps?: number;
  /** Region from the location's country (lib/offers/regions); undefined when unknown. */
  region?: Region;
  /** ISO 3166-1 alpha-2, upper case, when known. */
  countryCode?: string;
  /** Human-readable location (Vast `geolocation`, RunPod data-center name). */
  location?: string;
  /** Vast: verification == "verified". */
  verified?: boolean;
  /** Vast: hosting_type == 1. RunPod: SECURE cloud. */
  datacenter?: boolean;
  /** Vast DLPerf score. */
  dlperf?: number;
  /** Vast host reliability score, 0-1 (`reliability`, alias `reliability2`). */
  reliability?: number;
  /** RunPod cloud tier of this offer. */
  cloudType?: RunPodCloudType;
  /** RunPod data-center id (e.g. "EU-RO-1"). */
  dataCenterId?: string;
  /** RunPod stock level, when reported. */
  stock?: 'LOW' | 'MEDIUM' | 'HIGH';
}
