import { describe, expect, it } from 'vitest';
import { acceptedGpuKeys, gpuKey, sameGpu } from '../../../lib/offers/gpu-names.ts';

describe('gpuKey', () => {
  // providers.md §6: Vast gpu_name ↔ RunPod display name (and RunPod ids, §3.13)
  it.each([
    ['A100 PCIE', 'A100 PCIe'],
    ['A100 SXM4', 'A100 SXM'],
    ['H100 PCIE', 'H100 PCIe'],
    ['H200', 'H200 SXM'],
    ['RTX 6000Ada', 'RTX 6000 Ada'],
    ['RTX 4000Ada', 'RTX 4000 Ada'],
    ['RTX 4080S', 'RTX 4080 SUPER'],
    ['RTX 4070S Ti', 'RTX 4070 Ti SUPER'],
    ['RTX PRO 6000 WS', 'RTX PRO 6000 WK'],
    ['RTX PRO 6000 Max-Q', 'RTX PRO 6000 MaxQ'],
    ['RTX PRO 6000 S', 'RTX PRO 6000'],
    ['Tesla V100', 'Tesla V100'],
    ['Tesla T4', 'T4'],
    ['RTX 4090', 'NVIDIA GeForce RTX 4090'],
    ['RTX 6000Ada', 'NVIDIA RTX 6000 Ada Generation'],
    ['A100 PCIE', 'NVIDIA A100 80GB PCIe'],
    ['A100 SXM4', 'NVIDIA A100-SXM4-80GB'],
    ['H100 SXM', 'NVIDIA H100 80GB HBM3'],
    ['RTX 3080 Ti', 'NVIDIA GeForce RTX 3080TI'],
    ['RTX A4500', 'NVIDIA  RTX A4500'],
    ['L40S', 'NVIDIA L40S'],
    ['H200 NVL', 'NVIDIA H200 NVL'],
    ['Q RTX 8000', 'Quadro RTX 8000'],
    ['InstinctMI250X', 'MI250X'],
    ['MI300X', 'AMD Instinct MI300X OAM'],
    ['rtx 4090', 'RTX-4090'],
    ['rtx_3090', 'RTX 3090'],
  ])('%s and %s name the same GPU', (a, b) => {
    expect(gpuKey(a)).toBe(gpuKey(b));
    expect(sameGpu(a, b)).toBe(true);
  });

  it.each([
    ['RTX 4090', 'RTX 4090D'],
    ['RTX 4080', 'RTX 4080 SUPER'],
    ['L40', 'L40S'],
    ['A10', 'A10g'],
    ['A100 PCIe', 'A100 SXM'],
    ['H100 SXM', 'H100 NVL'],
    ['RTX 4000 Ada', 'RTX 4000 Ada SFF'],
    ['RTX 6000 Ada', 'RTX A6000'],
    ['RTX PRO 6000 WS', 'RTX PRO 6000'],
  ])('%s and %s are different GPUs', (a, b) => {
    expect(sameGpu(a, b)).toBe(false);
  });

  it('lets a Vast "Tesla V100" request cover every RunPod V100, but not the other way round', () => {
    expect(acceptedGpuKeys('Tesla V100')).toEqual([
      gpuKey('Tesla V100'),
      gpuKey('V100 SXM2'),
      gpuKey('V100 SXM2 32GB'),
    ]);
    expect(acceptedGpuKeys('V100 SXM2')).toEqual([gpuKey('V100 SXM2')]);
  });
});
