import { describe, expect, it } from 'vitest';
import { suggestGpuName } from '../../../lib/annotations/suggest.ts';
import {
  KNOWN_GPU_NAMES,
  PROVIDER_GPU_NAMES,
  providerGpuNames,
  providersOfGpu,
} from '../../../lib/offers/gpu-catalog.ts';
import { gpuKey } from '../../../lib/offers/gpu-names.ts';

describe('PROVIDER_GPU_NAMES', () => {
  // vast audit #5: names vast-cli `vastai/data/query.py` lists that the old table lacked.
  it.each([
    'RTX A4500',
    'RTX A2000',
    'RTX 2080 Ti',
    'RTX 3070 Ti',
    'RTX 4060',
    'RTX 5060 Ti',
    'RTX 5070',
    'RTX 2000Ada',
    'RTX 4500Ada',
    'RTX 5000Ada',
    'RTX 5880Ada',
    'RTX PRO 4000',
    'RTX PRO 5000',
    'Q RTX 4000',
    'Q RTX 5000',
    'Q RTX 6000',
    'Titan RTX',
    'Titan V',
    'Tesla P4',
    'InstinctMI100',
    'InstinctMI210',
    'PRO W7800',
    'RX 7900 XT',
  ])('Vast lists %s', (name) => {
    expect(PROVIDER_GPU_NAMES.vastai).toContain(name);
  });

  it("holds every one of query.py's 144 gpu_name constants, each once", () => {
    expect(PROVIDER_GPU_NAMES.vastai).toHaveLength(144);
    expect(new Set(PROVIDER_GPU_NAMES.vastai).size).toBe(PROVIDER_GPU_NAMES.vastai.length);
  });

  it('folds two Vast names onto one key only where they name one model (providers.md §6)', () => {
    const byKey = new Map<string, string[]>();
    for (const name of PROVIDER_GPU_NAMES.vastai)
      byKey.set(gpuKey(name), [...(byKey.get(gpuKey(name)) ?? []), name]);
    const shared = [...byKey.values()].filter((names) => names.length > 1);
    expect(shared).toEqual([
      ['A100 SXM4', 'A100 SXM'],
      ['RTX PRO 6000', 'RTX PRO 6000 S'],
    ]);
  });
});

describe('providersOfGpu', () => {
  it.each([
    ['RTX 4090', ['vastai', 'runpod']],
    ['RTX 4080 SUPER', ['vastai', 'runpod']],
    ['NVIDIA RTX 6000 Ada Generation', ['vastai', 'runpod']],
    ['RTX 5880 Ada', ['vastai']],
    ['GTX 1080 Ti', ['vastai']],
    ['MI300X', ['runpod']],
    ['RTX 4000 Ada SFF', ['runpod']],
    ['NVIDIA B300 SXM6 AC', ['runpod']],
    ['RTX 9999', []],
  ])('%s is listed by %j', (name, providers) => {
    expect(providersOfGpu(name)).toEqual(providers);
  });
});

describe('providerGpuNames', () => {
  it.each([
    [['RTX 4080 SUPER'], ['RTX 4080S']],
    [['A100 SXM'], ['A100 SXM4', 'A100 SXM']],
    [
      ['RTX 6000 Ada', 'rtx_a4500'],
      ['RTX 6000Ada', 'RTX A4500'],
    ],
    [['Quadro RTX 5000'], ['Q RTX 5000']],
    [['RTX 2080 SUPER'], ['RTX 2080S']],
    [['V100 SXM2'], []],
    [['MI300X', 'RTX 4090'], ['RTX 4090']],
  ])('Vast spells %j as %j', (requested, vast) => {
    expect(providerGpuNames('vastai', requested)).toEqual(vast);
  });
});

describe('suggestGpuName', () => {
  it.each([
    ['RTX 4090x', 'RTX 4090'],
    ['4090', 'RTX 4090'],
    ['A6000', 'RTX A6000'],
    ['H100 SMX', 'H100 SXM'],
    ['RTX 508', 'RTX 5080'],
    ['Zeta 9', undefined],
    ['', undefined],
  ])('%j → %j', (unknown, hint) => {
    expect(suggestGpuName(unknown, KNOWN_GPU_NAMES)).toBe(hint);
  });
});
