import type { ProviderName, Region, RunPodCloudType } from '../offers/offer.ts';

/**
 * A numeric constraint after the seed's rule is applied: when the exact value is set,
 * `min`/`max` are dropped (and `Requirements.notes` says so). Bounds are inclusive.
 */
export type NumericConstraint = { exact: number } | { min?: number; max?: number };

/** A CUDA version constraint, compared as (major, minor) — never as a float. */
export type VersionConstraint = { exact: string } | { min?: string; max?: string };

/**
 * What a pod asks for, parsed from its `anex.sh/*`, `vastai.anex.sh/*` and
 * `runpod.anex.sh/*` annotations (lib/annotations/parse.ts). Every field present is a
 * filter; absent means "any". Lists are OR; fields are AND.
 */
export interface Requirements {
  /** From nodeSelector `node-provider` (or the CLI's --provider). */
  provider: ProviderName;
  regions?: readonly Region[];
  /** As the user wrote them (trimmed); matching normalizes (lib/offers/gpu-names). */
  gpuNames?: readonly string[];
  /** "major.minor" strings, e.g. ["8.6", "8.9"]. */
  computeCaps?: readonly string[];
  gpuCount?: NumericConstraint;
  vramMb?: NumericConstraint;
  vramTotalMb?: NumericConstraint;
  vramBandwidthGBps?: NumericConstraint;
  tflops?: NumericConstraint;
  cuda?: VersionConstraint;
  cpuCores?: NumericConstraint;
  ramMb?: NumericConstraint;
  pricePerHour?: NumericConstraint;
  uploadMbps?: NumericConstraint;
  downloadMbps?: NumericConstraint;
  /** Filter on the offer's available disk (GB). Set from `anex.sh/disk-space-gb*`. */
  diskGb?: NumericConstraint;
  diskBwMBps?: NumericConstraint;
  /** GB of container disk to allocate on create (exact or min of disk-space-gb, else the default 20). */
  diskToAllocateGb: number;
  vastai: {
    /** default true */
    verifiedOnly: boolean;
    datacenterOnly?: boolean;
    dlperf?: NumericConstraint;
    /** `vastai.anex.sh/reliability-min`: the host's reliability score (0-1) at least this. */
    reliabilityMin?: number;
  };
  runpod: {
    /** unset: both tiers */
    cloudTypes?: readonly RunPodCloudType[];
    /** priority-ordered */
    dataCenterIds?: readonly string[];
    keepGpuTypePriority: boolean;
  };
  /** Human-readable notes for `explain`, e.g. "anex.sh/vram is set: anex.sh/vram-min is ignored". */
  notes: readonly string[];
  /** Non-fatal findings (e.g. the other provider's keys, which are ignored). */
  warnings: readonly string[];
}
