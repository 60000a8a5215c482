import { seededRandom } from './harness.ts';

/**
 * Synthetic raw Vast.AI search rows (the `POST /api/v0/bundles/` shape, providers.md
 * §2.15), with a realistic spread of GPUs, counts, locations, prices and trust flags.
 */

const GPUS: readonly [
  name: string,
  computeCap: number,
  vramMb: number,
  bandwidth: number,
  tflops: number,
  price: number,
][] = [
  ['RTX 4090', 890, 24564, 1008, 82.6, 0.4],
  ['RTX 3090', 860, 24576, 936, 35.6, 0.22],
  ['RTX 3080', 860, 10240, 760, 29.8, 0.12],
  ['RTX 4080S', 890, 16376, 736, 52.2, 0.28],
  ['RTX 4070 Ti', 890, 12282, 504, 40.1, 0.16],
  ['RTX 5090', 1200, 32607, 1792, 104.8, 0.7],
  ['RTX A6000', 860, 49140, 768, 38.7, 0.45],
  ['RTX 6000Ada', 890, 49140, 960, 91.1, 0.8],
  ['A100 PCIE', 800, 81920, 1935, 19.5, 1.1],
  ['A100 SXM4', 800, 81920, 2039, 19.5, 1.3],
  ['H100 SXM', 900, 81559, 3350, 66.9, 2.2],
  ['H100 PCIE', 900, 81559, 2000, 51.2, 1.9],
  ['L40S', 890, 46068, 864, 91.6, 0.8],
  ['Tesla V100', 700, 16384, 900, 14, 0.15],
  ['A40', 860, 46068, 696, 37.4, 0.4],
];

const PLACES = [
  'Texas, US',
  'California, US',
  'Virginia, US',
  'Quebec, CA',
  'Mexico City, MX',
  'Sao Paulo, BR',
  'Sweden, SE',
  'Frankfurt, DE',
  'Netherlands, NL',
  'Warsaw, PL',
  'Helsinki, FI',
  'Bucharest, RO',
  'Madrid, ES',
  'London, GB',
  'Paris, FR',
  'Moscow, RU',
  'Oslo, NO',
  'Czechia, CZ',
  'Kyiv, UA',
  'Tokyo, JP',
  'Seoul, KR',
  'Singapore, SG',
  'Mumbai, IN',
  'Taipei, TW',
  'Istanbul, TR',
  'Sydney, NSW, AU',
  'Auckland, NZ',
  'Johannesburg, ZA',
  'Nairobi, KE',
];
const COUNTS = [1, 1, 1, 2, 2, 4, 8];
const VERIFICATION = ['verified', 'verified', 'verified', 'unverified', 'deverified'];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)] as T;
}

function row(random: () => number, i: number): Record<string, unknown> {
  const [gpu, cc, vram, bw, tflops, price] = pick(random, GPUS);
  const n = pick(random, COUNTS);
  const dph = Math.round(price * n * (0.7 + random() * 0.8) * 10000) / 10000;
  const cores = Math.round(n * (4 + random() * 28));
  return {
    id: 40_000_000 + i,
    ask_contract_id: 40_000_000 + i,
    machine_id: 10_000 + Math.floor(random() * 40_000),
    host_id: 1000 + Math.floor(random() * 9000),
    num_gpus: n,
    gpu_frac: 1,
    gpu_name: gpu,
    gpu_arch: 'nvidia',
    compute_cap: cc,
    gpu_ram: vram,
    gpu_total_ram: vram * n,
    gpu_mem_bw: bw,
    total_flops: tflops * n,
    dlperf: Math.round(tflops * n * (0.6 + random() * 0.4) * 10) / 10,
    cuda_max_good: pick(random, [12.2, 12.4, 12.8, 13]),
    cpu_cores: cores * 2,
    cpu_cores_effective: cores,
    cpu_ram: Math.round(n * (16000 + random() * 120000)),
    disk_space: Math.round(50 + random() * 2000),
    disk_bw: Math.round(500 + random() * 4000),
    inet_up: Math.round(100 + random() * 5000),
    inet_down: Math.round(100 + random() * 8000),
    dph_base: dph,
    dph_total: dph,
    reliability: 0.95 + random() * 0.05,
    rentable: true,
    rented: false,
    verification: pick(random, VERIFICATION),
    hosting_type: random() < 0.35 ? 1 : 0,
    geolocation: random() < 0.02 ? null : pick(random, PLACES),
    direct_port_count: 40,
    score: random() * 300,
  };
}

/** `{"offers":[…]}` with `count` rows, the same for the same seed. */
export function syntheticVastResponse(count: number, seed = 42): { offers: Record<string, unknown>[] } {
  const random = seededRandom(seed);
  return { offers: Array.from({ length: count }, (_, i) => row(random, i)) };
}
