import type { NumericConstraint, Requirements, VersionConstraint } from '../../annotations/requirements.ts';
import { countriesOfRegions } from './region-countries.ts';

/**
 * Vast `gpu_name` spellings for names users write the RunPod/marketing way (providers.md §6).
 * Only used to decide what can be pushed server-side; lib/filter matches names locally.
 */
const VAST_GPU_NAMES: Record<string, string> = {
  a100pcie: 'A100 PCIE',
  a100sxm: 'A100 SXM4',
  a100sxm4: 'A100 SXM4',
  h100pcie: 'H100 PCIE',
  h100sxm: 'H100 SXM',
  h100nvl: 'H100 NVL',
  h200: 'H200',
  h200sxm: 'H200',
  rtx6000ada: 'RTX 6000Ada',
  rtx4000ada: 'RTX 4000Ada',
  rtx4080super: 'RTX 4080S',
  rtx4080s: 'RTX 4080S',
  rtx4070super: 'RTX 4070S',
  rtx3090: 'RTX 3090',
  rtx3090ti: 'RTX 3090 Ti',
  rtx3080: 'RTX 3080',
  rtx3060: 'RTX 3060',
  rtx4090: 'RTX 4090',
  rtx4090d: 'RTX 4090D',
  rtx4080: 'RTX 4080',
  rtx4070: 'RTX 4070',
  rtx5090: 'RTX 5090',
  rtx5080: 'RTX 5080',
  rtxa4000: 'RTX A4000',
  rtxa5000: 'RTX A5000',
  rtxa6000: 'RTX A6000',
  l40s: 'L40S',
  l40: 'L40',
  l4: 'L4',
  a40: 'A40',
  a10: 'A10',
  teslav100: 'Tesla V100',
  v100: 'Tesla V100',
  teslat4: 'Tesla T4',
  t4: 'Tesla T4',
  b200: 'B200',
};

function normalizeGpuName(name: string): string {
  return name.toLowerCase().replace(/nvidia|geforce|[\s-]/g, '');
}

/** The Vast names to push, or undefined when one requested name has no known Vast spelling. */
export function vastGpuNames(names: readonly string[]): string[] | undefined {
  const out: string[] = [];
  for (const name of names) {
    const vast = VAST_GPU_NAMES[normalizeGpuName(name)];
    if (!vast) return undefined; // pushing a guess could hide matches; filter locally instead
    out.push(vast);
  }
  return out;
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
    compute_cap: requirements.computeCaps ? { in: computeCaps(requirements.computeCaps) } : undefined,
    geolocation: requirements.regions ? { in: countriesOfRegions(requirements.regions) } : undefined,
    machine_id: banned.length > 0 ? { notin: banned } : undefined,
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
