import { gpuKey } from './gpu-names.ts';

/**
 * Per-GPU figures a provider does not report (RunPod exposes neither compute capability,
 * memory bandwidth nor TFLOPS — providers.md §3.13), keyed by {@link gpuKey}.
 * Values are the vendor's datasheet figures for one GPU: compute capability "major.minor",
 * memory bandwidth in GB/s, and dense FP32 (non-tensor) TFLOPS — the same measure Vast's
 * `total_flops` uses (an RTX 4090 reports ≈ 82), so filters mean the same on both providers.
 * AMD parts have no CUDA compute capability.
 */
export interface GpuSpec {
  computeCap?: string;
  memoryBandwidthGBps: number;
  tflops: number;
}

type Row = readonly [name: string, computeCap: string | undefined, bandwidthGBps: number, tflops: number];

const ROWS: readonly Row[] = [
  // Consumer (GeForce)
  ['RTX 3060', '8.6', 360, 12.7],
  ['RTX 3060 Ti', '8.6', 448, 16.2],
  ['RTX 3070', '8.6', 448, 20.3],
  ['RTX 3080', '8.6', 760, 29.8],
  ['RTX 3080 Ti', '8.6', 912, 34.1],
  ['RTX 3090', '8.6', 936, 35.6],
  ['RTX 3090 Ti', '8.6', 1008, 40.0],
  ['RTX 4060 Ti', '8.9', 288, 22.1],
  ['RTX 4070', '8.9', 504, 29.1],
  ['RTX 4070 SUPER', '8.9', 504, 35.5],
  ['RTX 4070 Ti', '8.9', 504, 40.1],
  ['RTX 4070 Ti SUPER', '8.9', 672, 44.1],
  ['RTX 4080', '8.9', 717, 48.7],
  ['RTX 4080 SUPER', '8.9', 736, 52.2],
  ['RTX 4090', '8.9', 1008, 82.6],
  ['RTX 4090D', '8.9', 1008, 73.5],
  ['RTX 5070 Ti', '12.0', 896, 43.9],
  ['RTX 5080', '12.0', 960, 56.3],
  ['RTX 5090', '12.0', 1792, 104.8],
  // Professional
  ['RTX A2000', '8.6', 288, 8.0],
  ['RTX A4000', '8.6', 448, 19.2],
  ['RTX A4500', '8.6', 640, 23.7],
  ['RTX A5000', '8.6', 768, 27.8],
  ['RTX A6000', '8.6', 768, 38.7],
  ['RTX 2000 Ada', '8.9', 224, 12.0],
  ['RTX 4000 Ada', '8.9', 360, 26.7],
  ['RTX 4000 Ada SFF', '8.9', 280, 19.2],
  ['RTX 5000 Ada', '8.9', 576, 65.3],
  ['RTX 6000 Ada', '8.9', 960, 91.1],
  ['Q RTX 8000', '7.5', 672, 16.3],
  ['RTX PRO 4500', '12.0', 896, 54.9],
  ['RTX PRO 6000', '12.0', 1792, 126.0],
  ['RTX PRO 6000 WS', '12.0', 1792, 125.0],
  ['RTX PRO 6000 MaxQ', '12.0', 1792, 110.0],
  // RunPod's MIG types of the RTX PRO 6000 (runpod/docs gpu-types.mdx; runpod audit #15): a MIG
  // instance gets its share of the SMs and memory bandwidth — a quarter (24 GB) or a half (48 GB).
  ['RTX PRO 6000 MIG 24GB', '12.0', 448, 31.5],
  ['RTX PRO 6000 MIG 48GB', '12.0', 896, 63.0],
  // Data centre
  ['Tesla T4', '7.5', 320, 8.1],
  ['Tesla P100', '6.0', 732, 9.3],
  ['Tesla P40', '6.1', 346, 11.8],
  ['Tesla V100', '7.0', 900, 14.0],
  ['V100 SXM2', '7.0', 900, 15.7],
  ['V100 SXM2 32GB', '7.0', 900, 15.7],
  ['A10', '8.6', 600, 31.2],
  ['A10g', '8.6', 600, 31.2],
  ['A16', '8.6', 200, 4.5],
  ['A30', '8.0', 933, 10.3],
  ['A40', '8.6', 696, 37.4],
  ['A100 PCIe', '8.0', 1935, 19.5],
  ['A100 SXM', '8.0', 2039, 19.5],
  // The 40 GB SXM4 module has HBM2 at 1555 GB/s (RunPod lists it on community: runpod audit #15).
  ['A100 SXM 40GB', '8.0', 1555, 19.5],
  ['A800 PCIE', '8.0', 1935, 19.5],
  ['L4', '8.9', 300, 30.3],
  ['L40', '8.9', 864, 90.5],
  ['L40S', '8.9', 864, 91.6],
  ['H100 PCIe', '9.0', 2000, 51.2],
  ['H100 SXM', '9.0', 3350, 66.9],
  ['H100 NVL', '9.0', 3900, 60.0],
  ['H200 SXM', '9.0', 4800, 66.9],
  ['H200 NVL', '9.0', 4800, 60.3],
  ['GH200 SXM', '9.0', 4000, 67.0],
  ['B200', '10.0', 8000, 80.0],
  ['B300', '10.3', 8000, 75.0],
  // AMD
  ['MI300X', undefined, 5300, 163.4],
  ['InstinctMI250X', undefined, 3277, 47.9],
];

function buildTable(): ReadonlyMap<string, GpuSpec> {
  const table = new Map<string, GpuSpec>();
  for (const [name, computeCap, memoryBandwidthGBps, tflops] of ROWS) {
    table.set(
      gpuKey(name),
      computeCap === undefined
        ? { memoryBandwidthGBps, tflops }
        : { computeCap, memoryBandwidthGBps, tflops },
    );
  }
  return table;
}

const SPECS = buildTable();

/** The datasheet figures of a GPU model, by any spelling {@link gpuKey} understands. */
export function gpuSpec(name: string): GpuSpec | undefined {
  return SPECS.get(gpuKey(name));
}

/** Names of every model in the table, as written in it (for docs and tests). */
export const SPEC_GPU_NAMES: readonly string[] = ROWS.map((row) => row[0]);
