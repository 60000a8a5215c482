import type { NumericConstraint, Requirements, VersionConstraint } from '../../annotations/requirements.ts';
import { providerGpuNames } from '../../offers/gpu-catalog.ts';
import type { Region } from '../../offers/offer.ts';
import { COUNTRY_REGIONS } from '../../offers/regions.ts';

/**
 * The Vast spellings of the requested names (lib/offers/gpu-catalog.ts holds Vast's full
 * `gpu_name` list). Empty when no requested name is a Vast GPU: no Vast offer can match
 * then, and {@link VastAiProvider} answers without searching. The annotation parser already
 * refused names no provider knows, so an unfiltered search never happens (vast audit #5).
 */
export function vastGpuNames(names: readonly string[]): string[] {
  return providerGpuNames('vastai', names);
}

/** Country codes of the regions, for `geolocation in [...]`. */
function countriesOfRegions(regions: readonly Region[]): string[] {
  return [...COUNTRY_REGIONS]
    .filter(([, region]) => region && regions.includes(region))
    .map(([code]) => code);
}

function numeric(constraint: NumericConstraint | undefined, scale = 1): Record<string, number> | undefined {
  if (!constraint) return undefined;
  if ('exact' in constraint) return { gte: constraint.exact * scale, lte: constraint.exact * scale };
  const out: Record<string, number> = {};
  if (constraint.min !== undefined) out.gte = constraint.min * scale;
  if (constraint.max !== undefined) out.lte = constraint.max * scale;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * `cuda_max_good` is a float: pushed only while every minor version is one digit, where float
 * order equals version order (12.10 as a float would sort below 12.2).
 */
function cuda(constraint: VersionConstraint | undefined): Record<string, number> | undefined {
  if (!constraint) return undefined;
  // An exact CUDA pushes only its lower bound: "supports at least" is what a host's maximum
  // can promise, and the local filter decides the exact semantics.
  const bounds = 'exact' in constraint ? { min: constraint.exact, max: undefined } : constraint;
  const out: Record<string, number> = {};
  for (const [op, version] of [
    ['gte', bounds.min],
    ['lte', bounds.max],
  ] as const) {
    if (version === undefined || !/^\d+\.\d$/.test(version)) continue;
    out[op] = Number(version);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * `compute_cap` goes with every `cuda_max_good` filter: without it Vast's search drops H100 and
 * H200 rows (dstackai/gpuhunt#142, vast audit #4; dstack sends both). CUDA 12 needs compute
 * capability 5.0, so `gte 500` keeps every GPU a CUDA requirement can use.
 */
function computeCapFilter(requirements: Requirements): Record<string, number | number[]> | undefined {
  if (requirements.computeCaps) return { in: computeCaps(requirements.computeCaps) };
  return cuda(requirements.cuda) === undefined ? undefined : { gte: 500 };
}

/** "8.6" → 860, Vast's integer form. */
function computeCaps(caps: readonly string[]): number[] {
  return caps.map((cap) => {
    const [major = '0', minor = '0'] = cap.split('.');
    return Number(major) * 100 + Number(minor.slice(0, 1)) * 10;
  });
}

/**
 * `cpu_ram` is the host's total RAM; the instance gets a share of it (lib/offers/normalize/
 * vastai.ts, vast audit #6). The host total is at least the share, so only the lower bound is
 * pushed as a loose pre-filter; the local filter checks the share against every bound.
 */
function hostRamFloor(constraint: NumericConstraint | undefined): Record<string, number> | undefined {
  if (!constraint) return undefined;
  const floor = 'exact' in constraint ? constraint.exact : constraint.min;
  return floor === undefined ? undefined : { gte: floor };
}

/**
 * `reliability` (0-1) is the column the search documents (search_offers.yaml: `reliability
 * {"gte": 0.99}`); vast-cli's `reliability2` is an alias the server rewrites to it
 * (`vastai/data/query.py`). Rows carry both.
 */
function reliabilityFilter(min: number | undefined): Record<string, number> | undefined {
  return min === undefined ? undefined : { gte: min };
}

export interface SearchBodyOptions {
  excludeMachineIds?: readonly string[] | undefined;
  limit: number;
}

/**
 * The `POST /api/v0/bundles/` body for `requirements`: every filter Vast can apply
 * server-side (providers.md §2.4, §4). Local filtering re-checks all of them.
 */
export function buildSearchBody(
  requirements: Requirements,
  options: SearchBodyOptions,
): Record<string, unknown> {
  const names = requirements.gpuNames ? vastGpuNames(requirements.gpuNames) : undefined;
  const banned = (options.excludeMachineIds ?? []).map(Number).filter(Number.isInteger);
  const body: Record<string, unknown> = {
    // `rentable` is what hides asks rented by anyone. `rented` is not sent: it means the
    // caller's own rentals and the backend ignores it (search_offers.yaml; vast-cli 52b515c
    // "backend doesnt filter by rented at all"; vast audit #12).
    rentable: { eq: true },
    verified: requirements.vastai.verifiedOnly ? { eq: true } : undefined,
    datacenter: requirements.vastai.datacenterOnly ? { eq: true } : undefined,
    gpu_name: names ? { in: names } : undefined,
    num_gpus: numeric(requirements.gpuCount),
    gpu_ram: numeric(requirements.vramMb),
    gpu_total_ram: numeric(requirements.vramTotalMb),
    gpu_mem_bw: numeric(requirements.vramBandwidthGBps),
    total_flops: numeric(requirements.tflops),
    cpu_cores_effective: numeric(requirements.cpuCores),
    cpu_ram: hostRamFloor(requirements.ramMb),
    dph_total: numeric(requirements.pricePerHour),
    inet_up: numeric(requirements.uploadMbps),
    inet_down: numeric(requirements.downloadMbps),
    disk_space: numeric(requirements.diskGb),
    disk_bw: numeric(requirements.diskBwMBps),
    dlperf: numeric(requirements.vastai.dlperf),
    reliability: reliabilityFilter(requirements.vastai.reliabilityMin),
    cuda_max_good: cuda(requirements.cuda),
    compute_cap: computeCapFilter(requirements),
    geolocation: requirements.regions ? { in: countriesOfRegions(requirements.regions) } : undefined,
    machine_id: banned.length > 0 ? { notin: banned } : undefined,
    // NVIDIA GPUs on amd64 hosts only (vast audit: gpu_arch nvidia|amd, cpu_arch amd64|arm64):
    // an AMD GPU cannot run a CUDA image, and the image check before renting reads the
    // linux/amd64 variant, which an arm64 host (GH200) would fail with "exec format error".
    gpu_arch: { eq: 'nvidia' },
    cpu_arch: { eq: 'amd64' },
    allocated_storage: requirements.diskToAllocateGb,
    type: 'ondemand',
    // Two keys: cheapest first, ties by ask id (DESIGN §3 ordering).
    order: [
      ['dph_total', 'asc'],
      ['id', 'asc'],
    ],
    limit: options.limit,
  };
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}
