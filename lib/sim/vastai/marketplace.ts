import { Rng } from '../common/rng.ts';
import { VAST_CPUS, VAST_GPU_MODELS, VAST_LOCATIONS } from './catalog.ts';

/** One ask as stored; search computes `dph_total` and friends from it per request. */
export interface VastAsk {
  id: number;
  machineId: number;
  row: Record<string, unknown>;
  numGpus: number;
  /** Compute USD/h for the offer's GPUs. */
  dphBase: number;
  /** $/GB/month. */
  storageCost: number;
  /** Consumed by a rent: a second rent of the same ask answers 410 no_such_ask. */
  taken: boolean;
}

export interface VastMachine {
  id: number;
  hostId: number;
  gpuTotal: number;
  gpusInUse: number;
}

/**
 * A seeded, deterministic market: machines with 1-8 GPUs, each listed as one ask for the
 * whole machine and asks for slices of 1..N GPUs (as Vast does, `gpu_frac`). Every slice
 * reports the host's `cpu_ram` and `cpu_cores`, as Vast does, and its share in
 * `cpu_cores_effective` and `gpu_frac` (vast audit #6; docs docker-environment.mdx: RAM and
 * CPU are allocated "proportional to its share of attached GPUs").
 */
export function generateMarket(seed: number, offerCount: number) {
  const rng = new Rng(seed);
  const asks = new Map<number, VastAsk>();
  const machines = new Map<number, VastMachine>();
  let askId = 41_000_000;
  let machineId = 10_000;
  let hostId = 1_000;
  let machinesLeftOnHost = 0;
  while (asks.size < offerCount) {
    if (machinesLeftOnHost <= 0) {
      hostId += rng.int(1, 7);
      machinesLeftOnHost = rng.int(1, 5);
    }
    machinesLeftOnHost -= 1;
    machineId += rng.int(1, 13);
    const machine = buildMachine(rng, machineId, hostId);
    machines.set(machine.id, machine.machine);
    for (const numGpus of machine.slices) {
      if (asks.size >= offerCount) break;
      askId += rng.int(1, 40);
      asks.set(askId, buildAsk(rng, askId, machine, numGpus));
    }
  }
  return { asks, machines };
}

type MachineDraft = ReturnType<typeof buildMachine>;

function buildMachine(rng: Rng, id: number, hostId: number) {
  const gpu = rng.weighted(VAST_GPU_MODELS.map((m) => [m, m.weight] as const));
  const gpuTotal = gpu.vramMb > 70_000 ? rng.pick([1, 2, 4, 8, 8]) : rng.pick([1, 1, 2, 2, 4, 8]);
  const slices = slicesOf(rng, gpuTotal);
  const location = rng.weighted(VAST_LOCATIONS);
  const datacenter = rng.chance(gpu.basePrice > 0.7 ? 0.6 : 0.2);
  const cpuCores = rng.pick([16, 32, 64, 128]);
  return {
    id,
    gpu,
    slices,
    location,
    datacenter,
    machine: { id, hostId, gpuTotal, gpusInUse: 0 },
    static: {
      machine_id: id,
      host_id: hostId,
      gpu_name: gpu.name,
      gpu_arch: gpu.arch,
      compute_cap: gpu.computeCap,
      gpu_ram: gpu.vramMb,
      gpu_mem_bw: gpu.memBwGBps,
      cuda_max_good: rng.pick([11.8, 12.2, 12.4, 12.6, 12.8, 13.0]),
      driver_version: rng.pick(['535.183.01', '550.127.05', '560.35.03', '570.86.10', '575.57.08']),
      cpu_name: rng.pick(VAST_CPUS),
      cpu_cores: cpuCores,
      cpu_ram: cpuCores * rng.pick([2000, 4000, 8000]),
      disk_bw: rng.float(300, 6000, 1),
      inet_up: rng.float(50, 5000, 1),
      inet_down: rng.float(100, 9000, 1),
      reliability: reliabilityOf(rng),
      verification: rng.weighted([
        ['verified', 8],
        ['unverified', 2],
        ['deverified', 1],
      ] as const),
      hosting_type: datacenter ? 1 : 0,
      geolocation: location,
      direct_port_count: rng.int(0, 200),
      static_ip: rng.chance(0.5),
      public_ipaddr: `198.51.${rng.int(0, 255)}.${rng.int(1, 254)}`,
      cpu_arch: gpu.cpuArch,
    },
  };
}

/** The whole machine, then each smaller power-of-two slice with even odds. */
function slicesOf(rng: Rng, gpuTotal: number): number[] {
  const slices = [gpuTotal];
  for (let n = gpuTotal / 2; n >= 1; n /= 2) if (Number.isInteger(n) && rng.chance(0.5)) slices.push(n);
  return slices;
}

/**
 * Host reliability (0-1), varied as Vast's is: most hosts above 0.95, a tail down to 0.5
 * (so a `reliability` floor has something to remove).
 */
function reliabilityOf(rng: Rng): number {
  const [lo, hi] = rng.weighted([
    [[0.95, 0.9999], 7],
    [[0.8, 0.95], 2],
    [[0.5, 0.8], 1],
  ] as const);
  return rng.float(lo, hi, 4);
}

function buildAsk(rng: Rng, id: number, draft: MachineDraft, numGpus: number): VastAsk {
  const gpuFrac = numGpus / draft.machine.gpuTotal;
  const perGpu = draft.gpu.basePrice * rng.float(0.75, 1.6, 3);
  const dphBase = round(perGpu * numGpus, 4);
  const storageCost = rng.float(0.05, 0.3, 3);
  const totalFlops = round(draft.gpu.tflopsPerGpu * numGpus, 1);
  const dlperf = round(totalFlops * rng.float(0.6, 0.95, 2), 1);
  const row: Record<string, unknown> = {
    id,
    ask_contract_id: id,
    bundle_id: Math.floor(id / 7),
    ...draft.static,
    num_gpus: numGpus,
    gpu_frac: gpuFrac,
    gpu_total_ram: draft.gpu.vramMb * numGpus,
    total_flops: totalFlops,
    dlperf,
    cpu_cores_effective: round((draft.static.cpu_cores as number) * gpuFrac, 1),
    // A slice's share of the host disk, never below what Vast's default allocation (8 GB) needs.
    disk_space: round(Math.max(16, rng.float(40, 2000, 0) * gpuFrac), 1),
    dph_base: dphBase,
    min_bid: round(dphBase * 0.6, 4),
    storage_cost: storageCost,
    inet_up_cost: 0.005,
    inet_down_cost: 0.005,
    vericode: draft.static.verification === 'verified' ? 1 : 0,
    // vast-cli `query.py`: `reliability2` is an alias of `reliability`; rows carry both (search_offers.yaml example).
    reliability2: draft.static.reliability,
    rentable: true,
    rented: false,
    duration: rng.int(7, 180) * 86_400,
    end_date: 1_790_000_000 + rng.int(0, 10_000_000),
    score: round(dlperf * 2.5, 1),
  };
  return { id, machineId: draft.machine.id, row, numGpus, dphBase, storageCost, taken: false };
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
