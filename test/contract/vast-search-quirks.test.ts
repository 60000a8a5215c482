import { describe, expect, it } from 'vitest';
import { VastAiProvider } from '../../lib/providers/vastai/provider.ts';
import { VastAiSim } from '../../lib/sim/vastai/vastai-sim.ts';
import { aRequirements } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * Vast's search as it really answers (vast audit #4, dstackai/gpuhunt#142, recorded live):
 * `cuda_max_good` without `compute_cap` returns no H100/H200 rows. The simulator does the
 * same, and the adapter sends `compute_cap` with every CUDA filter, as dstack does.
 */

const sim = new VastAiSim({ seed: 3, offers: 3000 });
const state = useSim(sim);

async function search(body: Record<string, unknown>): Promise<string[]> {
  const response = await fetch(`${state.url}/api/v0/bundles/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rentable: { eq: true }, limit: 3000, ...body }),
  });
  const { offers } = (await response.json()) as { offers: { gpu_name: string }[] };
  return offers.map((o) => o.gpu_name);
}

/** The adapter against the simulator, keeping every search body it sends. */
function recordingProvider() {
  const sent: Record<string, unknown>[] = [];
  const provider = new VastAiProvider({
    baseUrl: state.url,
    apiKey: 'k',
    fetch: async (input, init) => {
      if (String(input).includes('/bundles/'))
        sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
      return fetch(input, init);
    },
  });
  return { provider, sent };
}

const hopper = (names: string[]) => names.filter((n) => /\bH(100|200)\b/.test(n));

describe('Vast search: cuda_max_good and compute_cap (gpuhunt#142)', () => {
  it('the simulator drops H100/H200 for cuda_max_good alone, as the live API did', async () => {
    expect(hopper(await search({ cuda_max_good: { gte: 12.1 } }))).toEqual([]);
    expect(
      hopper(await search({ cuda_max_good: { gte: 12.1 }, compute_cap: { gte: 500 } })).length,
    ).toBeGreaterThan(0);
    expect(hopper(await search({})).length).toBeGreaterThan(0);
  });

  it('the adapter sends compute_cap with the CUDA filter, so H100/H200 offers are found', async () => {
    const { provider, sent } = recordingProvider();
    const offers = await provider.listOffers(
      aRequirements('vastai', { cuda: { min: '12.1' }, gpuNames: ['H100 SXM', 'H100 PCIe', 'H200'] }),
      {},
    );
    expect(sent[0]).toMatchObject({ cuda_max_good: { gte: 12.1 }, compute_cap: { gte: 500 } });
    expect(offers.some((o) => /H(100|200)/.test(o.gpuName))).toBe(true);
  });
});

describe('Vast search: GPU vendor and CPU architecture (vast audit, "Architecture")', () => {
  it('asks for NVIDIA GPUs on amd64 hosts, so AMD rows (gpu_arch amd) never come back', async () => {
    expect((await search({})).some((name) => name === 'RX 7900 XTX')).toBe(true);
    const { provider, sent } = recordingProvider();
    const offers = await provider.listOffers(
      aRequirements('vastai', { gpuNames: ['RX 7900 XTX', 'RTX 4090'] }),
      {},
    );
    expect(sent[0]).toMatchObject({ gpu_arch: { eq: 'nvidia' }, cpu_arch: { eq: 'amd64' } });
    expect(offers.length).toBeGreaterThan(0);
    expect(offers.some((o) => o.gpuName === 'RX 7900 XTX')).toBe(false);
  });
});
