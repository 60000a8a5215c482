import { describe, expect, it } from 'vitest';
import { gpuKey } from '../../../lib/offers/gpu-names.ts';
import { gpuSpec, SPEC_GPU_NAMES } from '../../../lib/offers/gpu-specs.ts';

describe('gpuSpec', () => {
  // Every RunPod GPU of providers.md §3.13/§3.14, by display name and by id.
  it.each([
    ['RTX 4090', 'NVIDIA GeForce RTX 4090', '8.9'],
    ['RTX 3090', 'NVIDIA GeForce RTX 3090', '8.6'],
    ['RTX 5090', 'NVIDIA GeForce RTX 5090', '12.0'],
    ['RTX 4080 SUPER', 'NVIDIA GeForce RTX 4080 SUPER', '8.9'],
    ['RTX A6000', 'NVIDIA RTX A6000', '8.6'],
    ['RTX A5000', 'NVIDIA RTX A5000', '8.6'],
    ['RTX A4500', 'NVIDIA  RTX A4500', '8.6'],
    ['RTX A4000', 'NVIDIA RTX A4000', '8.6'],
    ['RTX A2000', 'NVIDIA RTX A2000', '8.6'],
    ['RTX 6000 Ada', 'NVIDIA RTX 6000 Ada Generation', '8.9'],
    ['RTX 4000 Ada', 'NVIDIA RTX 4000 Ada Generation', '8.9'],
    ['RTX 4000 Ada SFF', 'NVIDIA RTX 4000 SFF Ada Generation', '8.9'],
    ['A100 PCIe', 'NVIDIA A100 80GB PCIe', '8.0'],
    ['A100 SXM', 'NVIDIA A100-SXM4-80GB', '8.0'],
    ['H100 PCIe', 'NVIDIA H100 PCIe', '9.0'],
    ['H100 SXM', 'NVIDIA H100 80GB HBM3', '9.0'],
    ['H100 NVL', 'NVIDIA H100 NVL', '9.0'],
    ['H200 SXM', 'NVIDIA H200', '9.0'],
    ['NVIDIA H200 NVL', 'NVIDIA H200 NVL', '9.0'],
    ['L40S', 'NVIDIA L40S', '8.9'],
    ['L40', 'NVIDIA L40', '8.9'],
    ['L4', 'NVIDIA L4', '8.9'],
    ['A40', 'NVIDIA A40', '8.6'],
    ['A30', 'NVIDIA  A30', '8.0'],
    ['B200', 'NVIDIA B200', '10.0'],
    ['RTX PRO 6000', 'NVIDIA RTX PRO 6000 Blackwell Server Edition', '12.0'],
    ['RTX PRO 6000 WK', 'NVIDIA RTX PRO 6000 Blackwell Workstation Edition', '12.0'],
    ['RTX PRO 6000 MaxQ', 'NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition', '12.0'],
    ['Tesla V100', 'Tesla V100-PCIE-16GB', '7.0'],
    ['V100 SXM2', 'Tesla V100-SXM2-16GB', '7.0'],
    ['V100 SXM2 32GB', 'V100 SXM2 32GB', '7.0'],
    // runpod audit #15: rows RunPod lists (docs gpu-types.mdx; a live community row for the A100 40 GB)
    ['B300', 'NVIDIA B300 SXM6 AC', '10.3'],
    ['RTX 5000 Ada', 'NVIDIA RTX 5000 Ada Generation', '8.9'],
    ['A100 SXM 40GB', 'NVIDIA A100-SXM4-40GB', '8.0'],
    ['RTX PRO 6000 MIG 24GB', 'RTX PRO 6000 MIG 24GB', '12.0'],
    ['RTX PRO 6000 MIG 48GB', 'RTX PRO 6000 MIG 48GB', '12.0'],
  ])('%s (id %s) has compute capability %s, bandwidth and TFLOPS', (name, id, computeCap) => {
    const spec = gpuSpec(name);
    expect(spec?.computeCap).toBe(computeCap);
    expect(spec?.memoryBandwidthGBps).toBeGreaterThan(0);
    expect(spec?.tflops).toBeGreaterThan(0);
    expect(gpuSpec(id)).toEqual(spec);
  });

  it('gives AMD parts no CUDA compute capability', () => {
    expect(gpuSpec('MI300X')?.computeCap).toBeUndefined();
    expect(gpuSpec('AMD Instinct MI300X OAM')?.tflops).toBeGreaterThan(100);
  });

  it('knows Vast spellings too', () => {
    expect(gpuSpec('RTX 6000Ada')).toEqual(gpuSpec('RTX 6000 Ada'));
    expect(gpuSpec('RTX 4080S')).toEqual(gpuSpec('RTX 4080 SUPER'));
    expect(gpuSpec('A100 SXM4')).toEqual(gpuSpec('A100 SXM'));
  });

  it('gives every model of the table its own key (no alias folds two rows together)', () => {
    const keys = SPEC_GPU_NAMES.map(gpuKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('returns undefined for an unknown model', () => {
    expect(gpuSpec('Voodoo 5 6000')).toBeUndefined();
  });
});
