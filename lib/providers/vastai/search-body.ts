import type { NumericConstraint, Requirements, VersionConstraint } from '../../annotations/requirements.ts';
import { acceptedGpuKeys, gpuKey } from '../../offers/gpu-names.ts';
import type { Region } from '../../offers/offer.ts';
import { COUNTRY_REGIONS } from '../../offers/regions.ts';

/** Vast `gpu_name` values (vast-cli `vastai/data/query.py`, providers.md §2.14). */
const VAST_GPU_NAMES = [
  'A10',
  'A10g',
  'A16',
  'A30',
  'A40',
  'A100 PCIE',
  'A100 SXM4',
  'A100 SXM',
  'A100X',
  'A800 PCIE',
  'B200',
  'GH200 SXM',
  'H100 PCIE',
  'H100 SXM',
  'H100 NVL',
  'H200',
  'H200 NVL',
  'L4',
  'L40',
  'L40S',
  'Tesla T4',
  'Tesla V100',
  'Tesla P100',
  'Tesla P40',
  'RTX 3060',
  'RTX 3060 Ti',
  'RTX 3070',
  'RTX 3080',
  'RTX 3080 Ti',
  'RTX 3090',
  'RTX 3090 Ti',
  'RTX 4060 Ti',
  'RTX 4070',
  'RTX 4070S',
  'RTX 4070 Ti',
  'RTX 4070S Ti',
  'RTX 4080',
  'RTX 4080S',
  'RTX 4090',
  'RTX 4090D',
  'RTX 5070 Ti',
  'RTX 5080',
  'RTX 5090',
  'RTX A4000',
  'RTX A5000',
  'RTX A6000',
  'RTX 4000Ada',
  'RTX 6000Ada',
  'Q RTX 8000',
  'RTX PRO 6000',
  'RTX PRO 6000 S',
  'RTX PRO 6000 WS',
  'RTX PRO 6000 Max-Q',
  'RTX PRO 4500',
  'InstinctMI250X',
  'RX 7900 XTX',
  'PRO W7900',
];

/**
 * The Vast spellings of the requested names, or undefined when one name has no known Vast
 * spelling: pushing a partial list could hide offers, so then lib/filter matches locally.
 */
export function vastGpuNames(names: readonly string[]): string[] | undefined {
  const out: string[] = [];
  for (const name of names) {
    const accepted = new Set(acceptedGpuKeys(name));
    const matches = VAST_GPU_NAMES.filter((vast) => accepted.has(gpuKey(vast)));
    if (matches.length === 0) return undefined;
    out.push(...matches);
  }
  return [...new Set(out)];
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
    rentable: { eq: true },
    rented: { eq: false },
    verified: requirements.vastai.verifiedOnly ? { eq: true } : undefined,
    datacenter: requirements.vastai.datacenterOnly ? { eq: true } : undefined,
    gpu_name: names ? { in: names } : undefined,
    num_gpus: numeric(requirements.gpuCount),
    gpu_ram: numeric(requirements.vramMb),
    gpu_total_ram: numeric(requirements.vramTotalMb),
    gpu_mem_bw: numeric(requirements.vramBandwidthGBps),
    total_flops: numeric(requirements.tflops),
    cpu_cores_effective: numeric(requirements.cpuCores),
    cpu_ram: numeric(requirements.ramMb),
    dph_total: numeric(requirements.pricePerHour),
    inet_up: numeric(requirements.uploadMbps),
    inet_down: numeric(requirements.downloadMbps),
    disk_space: numeric(requirements.diskGb),
    disk_bw: numeric(requirements.diskBwMBps),
    dlperf: numeric(requirements.vastai.dlperf),
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
