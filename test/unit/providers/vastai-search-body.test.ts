import { describe, expect, it } from 'vitest';
import type { Requirements } from '../../../lib/annotations/requirements.ts';
import { buildSearchBody } from '../../../lib/providers/vastai/search-body.ts';
import { aRequirements } from './builders.ts';

const body = (overrides: Partial<Requirements>) =>
  buildSearchBody(aRequirements('vastai', overrides), { limit: 1000 });

describe('buildSearchBody', () => {
  it.each<[string, Partial<Requirements>, string, unknown]>([
    // vast audit #5: every name of Vast's gpulist is pushed, in Vast's spelling.
    ['gpu_name, a name the old table lacked', { gpuNames: ['RTX A4500'] }, 'gpu_name', { in: ['RTX A4500'] }],
    [
      'gpu_name, aliases',
      { gpuNames: ['RTX 5000 Ada', 'Titan RTX'] },
      'gpu_name',
      { in: ['RTX 5000Ada', 'Titan RTX'] },
    ],
    [
      'gpu_name, a RunPod-only name left out',
      { gpuNames: ['MI300X', 'RTX 4090'] },
      'gpu_name',
      { in: ['RTX 4090'] },
    ],
    // vast audit #6: cpu_ram is the host total, so only a floor is pushed.
    ['cpu_ram min', { ramMb: { min: 65536 } }, 'cpu_ram', { gte: 65536 }],
    ['cpu_ram exact: only its floor', { ramMb: { exact: 65536 } }, 'cpu_ram', { gte: 65536 }],
    ['cpu_ram max: nothing server-side', { ramMb: { max: 65536 } }, 'cpu_ram', undefined],
    ['cpu_ram range: only the floor', { ramMb: { min: 1000, max: 65536 } }, 'cpu_ram', { gte: 1000 }],
    ['reliability', { vastai: { verifiedOnly: true, reliabilityMin: 0.98 } }, 'reliability', { gte: 0.98 }],
    ['no reliability by default', {}, 'reliability', undefined],
    // vast audit #12: `rented` is the caller's own rentals and ignored by the backend.
    ['never rented', {}, 'rented', undefined],
    ['always rentable', {}, 'rentable', { eq: true }],
  ])('%s', (_name, overrides, key, expected) => {
    expect(body(overrides)[key]).toEqual(expected);
  });
});
