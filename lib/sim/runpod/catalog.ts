import { Rng } from '../common/rng.ts';

/** A GPU type of the simulated RunPod catalog (ids and display names per providers.md §3.13). */
export interface SimGpuType {
  id: string;
  name: string;
  pool: string;
  manufacturer: 'NVIDIA' | 'AMD';
  /** GB per GPU (marketing figure). */
  memory: number;
  price: { secure: number; community: number };
  maxCount: { secure: number; community: number };
  cudaVersions: readonly string[];
}

export interface SimDataCenter {
  id: string;
  name: string;
  region: string;
  /** ISO 3166-1 alpha-2, for the catalog's `countryCodes` filter. */
  country: string;
  compliance: readonly string[];
}

const CUDA = ['11.8', '12.0', '12.1', '12.2', '12.4', '12.6', '12.8', '13.0'] as const;

export const RUNPOD_GPU_TYPES: readonly SimGpuType[] = [
  gpu('NVIDIA GeForce RTX 4090', 'RTX 4090', 'ADA_24', 24, 0.69, 0.34, 8, 4),
  gpu('NVIDIA GeForce RTX 3090', 'RTX 3090', 'AMPERE_24', 24, 0.46, 0.22, 8, 4),
  gpu('NVIDIA GeForce RTX 5090', 'RTX 5090', 'BLACKWELL_32', 32, 0.94, 0.69, 8, 4),
  gpu('NVIDIA GeForce RTX 4080 SUPER', 'RTX 4080 SUPER', 'ADA_16', 16, 0.39, 0.2, 4, 2),
  gpu('NVIDIA RTX A5000', 'RTX A5000', 'AMPERE_24', 24, 0.29, 0.16, 8, 4),
  gpu('NVIDIA RTX A6000', 'RTX A6000', 'AMPERE_48', 48, 0.49, 0.33, 8, 4),
  gpu('NVIDIA RTX 6000 Ada Generation', 'RTX 6000 Ada', 'ADA_48_PRO', 48, 0.77, 0.74, 8, 4),
  gpu('NVIDIA L40S', 'L40S', 'ADA_48_PRO', 48, 0.86, 0.79, 8, 4),
  gpu('NVIDIA L4', 'L4', 'ADA_24', 24, 0.43, 0.28, 8, 4),
  gpu('NVIDIA A100 80GB PCIe', 'A100 PCIe', 'AMPERE_80', 80, 1.64, 1.19, 8, 4),
  gpu('NVIDIA A100-SXM4-80GB', 'A100 SXM', 'AMPERE_80', 80, 1.74, 1.39, 8, 4),
  gpu('NVIDIA H100 PCIe', 'H100 PCIe', 'HOPPER_141', 80, 2.39, 1.99, 8, 4),
  gpu('NVIDIA H100 80GB HBM3', 'H100 SXM', 'HOPPER_141', 80, 2.69, 2.29, 8, 4),
  gpu('NVIDIA H200', 'H200 SXM', 'HOPPER_141', 141, 3.59, 3.29, 8, 0),
  gpu('NVIDIA B200', 'B200', 'BLACKWELL_180', 180, 5.98, 0, 8, 0),
  gpu('AMD Instinct MI300X OAM', 'MI300X', 'AMD_192', 192, 2.49, 0, 8, 0, 'AMD'),
];

function gpu(
  id: string,
  name: string,
  pool: string,
  memory: number,
  secure: number,
  community: number,
  maxSecure: number,
  maxCommunity: number,
  manufacturer: 'NVIDIA' | 'AMD' = 'NVIDIA',
): SimGpuType {
  return {
    id,
    name,
    pool,
    manufacturer,
    memory,
    price: { secure, community },
    maxCount: { secure: maxSecure, community: maxCommunity },
    cudaVersions: manufacturer === 'AMD' ? [] : CUDA,
  };
}

export const RUNPOD_DATA_CENTERS: readonly SimDataCenter[] = [
  { id: 'US-TX-3', name: 'US Texas 3', region: 'NORTH_AMERICA', country: 'US', compliance: ['SOC_2_TYPE_2'] },
  { id: 'US-CA-2', name: 'US California 2', region: 'NORTH_AMERICA', country: 'US', compliance: [] },
  {
    id: 'US-GA-1',
    name: 'US Georgia 1',
    region: 'NORTH_AMERICA',
    country: 'US',
    compliance: ['ISO_IEC_27001'],
  },
  {
    id: 'CA-MTL-1',
    name: 'CA Montreal 1',
    region: 'NORTH_AMERICA',
    country: 'CA',
    compliance: ['RENEWABLE'],
  },
  { id: 'EU-RO-1', name: 'EU Romania 1', region: 'EUROPE', country: 'RO', compliance: ['GDPR'] },
  { id: 'EU-SE-1', name: 'EU Sweden 1', region: 'EUROPE', country: 'SE', compliance: ['GDPR', 'RENEWABLE'] },
  { id: 'EU-NL-1', name: 'EU Netherlands 1', region: 'EUROPE', country: 'NL', compliance: ['GDPR'] },
  {
    id: 'EUR-IS-1',
    name: 'EU Iceland 1',
    region: 'EUROPE',
    country: 'IS',
    compliance: ['GDPR', 'RENEWABLE'],
  },
  { id: 'AP-JP-1', name: 'AP Japan 1', region: 'ASIA', country: 'JP', compliance: [] },
  { id: 'SEA-SG-1', name: 'SEA Singapore 1', region: 'ASIA', country: 'SG', compliance: [] },
  { id: 'OC-AU-1', name: 'OC Australia 1', region: 'OCEANIA', country: 'AU', compliance: [] },
  { id: 'BR-SP-1', name: 'BR Sao Paulo 1', region: 'SOUTH_AMERICA', country: 'BR', compliance: [] },
];

export type Cloud = 'SECURE' | 'COMMUNITY';

/** GPUs free per (gpu type, data center, cloud): the stock creates consume. */
export function generateStock(seed: number): Map<string, number> {
  const rng = new Rng(seed);
  const stock = new Map<string, number>();
  for (const type of RUNPOD_GPU_TYPES) {
    for (const dc of RUNPOD_DATA_CENTERS) {
      for (const cloud of ['SECURE', 'COMMUNITY'] as const) {
        if (type.maxCount[cloud === 'SECURE' ? 'secure' : 'community'] === 0) continue;
        const free = rng.chance(0.45) ? 0 : rng.pick([1, 2, 4, 8, 16, 32]);
        stock.set(stockKey(type.id, dc.id, cloud), free);
      }
    }
  }
  return stock;
}

export function stockKey(gpuId: string, dataCenterId: string, cloud: Cloud): string {
  return `${gpuId}|${dataCenterId}|${cloud}`;
}

export function availabilityOf(free: number, count: number): 'NONE' | 'LOW' | 'MEDIUM' | 'HIGH' {
  if (free < count) return 'NONE';
  if (free < 4) return 'LOW';
  if (free < 16) return 'MEDIUM';
  return 'HIGH';
}

/**
 * The catalog's `unknown` sentinel as a third party recorded it ([3P] pitwall: "the API's
 * `unknown` sentinel row (0 GB, $0, both cloud flags false)"; runpod audit #14). Its name is
 * not recorded: the stricter reading is an empty one, which no GpuType reader accepts.
 */
export const UNKNOWN_SENTINEL_ROW: Readonly<Record<string, unknown>> = {
  id: 'unknown',
  name: '',
  manufacturer: 'UNKNOWN',
  memory: 0,
  secure: false,
  community: false,
  price: { secure: 0, community: 0 },
  maxCount: { secure: 0, community: 0 },
  availability: 'NONE',
  dataCenters: [],
  cudaVersions: [],
};
