import { describe, expect, it } from 'vitest';
import { RunPodProvider } from '../../lib/providers/runpod/provider.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { aLaunch, aRequirements, aTag } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * RunPod places a pod on a vCPU / RAM floor per GPU (create-a-pod.mdx at 4962c60:
 * `gpu.minVcpuCountPerGpu`, `gpu.minRamPerGpu` — "placement filter … actual … returned in
 * `gpu.vcpuCount` / `gpu.memory`"; sent by SkyPilot and live in October 2026 [3P]; runpod audit
 * #12). The simulator accepts the fields, places only where they hold and reports what the pod
 * got; the adapter sends the pod's anex.sh/cpu-min and ram-min as those floors.
 */
const sim = new RunPodSim({ seed: 5 });
const state = useSim(sim);
const KEY = { authorization: 'Bearer floors', 'content-type': 'application/json' };

async function create(gpu: Record<string, unknown>) {
  const response = await fetch(`${state.url}/v2/pods`, {
    method: 'POST',
    headers: KEY,
    body: JSON.stringify({
      name: 'f',
      image: 'ghcr.io/example/trainer:1',
      gpu: { id: 'NVIDIA GeForce RTX 4090', count: 2, ...gpu },
      cloud: 'SECURE',
    }),
  });
  const body = (await response.json()) as {
    id?: string;
    gpu?: { vcpuCount?: number; memory?: number };
    detail?: string;
  };
  if (body.id !== undefined)
    await fetch(`${state.url}/v2/pods/${body.id}`, { method: 'DELETE', headers: KEY });
  return { status: response.status, body };
}

describe('the RunPod simulator places on vCPU and RAM floors per GPU', () => {
  it('accepts the floors, places where they hold and reports what the pod got', async () => {
    const placed = await create({ minVcpuCountPerGpu: 4, minRamPerGpu: 16 });
    expect(placed.status).toBe(201);
    expect(placed.body.gpu?.vcpuCount).toBeGreaterThanOrEqual(8);
    expect(placed.body.gpu?.memory).toBeGreaterThanOrEqual(32);
  });

  it('answers a floor no host meets as capacity, and a malformed floor as 422', async () => {
    expect((await create({ minVcpuCountPerGpu: 500 })).body.detail).toMatch(
      /^There are no longer any instances available/,
    );
    expect(await create({ minRamPerGpu: 0.5 })).toMatchObject({ status: 422 });
  });
});

describe('the adapter', () => {
  it('sends anex.sh/cpu-min and ram-min as floors per GPU, and offers carry the floor the create enforces', async () => {
    const sent: Record<string, unknown>[] = [];
    const provider = new RunPodProvider({
      baseUrl: state.url,
      apiKey: 'floors',
      fetch: async (input, init) => {
        if (init?.method === 'POST') sent.push(JSON.parse(String(init.body)) as Record<string, unknown>);
        return fetch(input, init);
      },
    });
    const requirements = aRequirements('runpod', {
      gpuNames: ['RTX 4090'],
      gpuCount: { exact: 2 },
      cpuCores: { min: 12 },
      ramMb: { min: 65_536 },
    });
    const [offer] = await provider.listOffers(requirements, {});
    if (offer === undefined) throw new Error('no 2× RTX 4090 offer');
    expect(offer).toMatchObject({ cpuCores: 12, ramMb: 65_536 });
    const result = await provider.create(
      offer,
      aLaunch({ floors: { cpuCores: 12, ramMb: 65_536 } }),
      aTag(),
      {},
    );
    expect(sent[0]?.gpu).toMatchObject({ minVcpuCountPerGpu: 6, minRamPerGpu: 32 });
    expect(result.outcome).toBe('created');
    if (result.outcome === 'created') await provider.destroy(result.instance.id, {});
  });
});
