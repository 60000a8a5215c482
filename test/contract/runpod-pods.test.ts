import { describe, expect, it } from 'vitest';
import { RunPodProvider } from '../../lib/providers/runpod/provider.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { aLaunch, aRequirements, aTag } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * RunPod places a pod at create, on any host of the GPU type unless the body says which CUDA
 * it needs (runpod audit #3; docs `CreateGpuConfig.minCudaVersion`: "Lowest acceptable CUDA
 * version for the host machine", `allowedCudaVersions`). The simulator places on the oldest
 * host the body accepts (the stricter reading), and refuses when none qualifies; the adapter
 * sends the pod's CUDA requirement.
 */

const sim = new RunPodSim({ seed: 5 });
const state = useSim(sim);
const KEY = { authorization: 'Bearer cuda-test', 'content-type': 'application/json' };

async function create(gpu: Record<string, unknown>) {
  const response = await fetch(`${state.url}/v2/pods`, {
    method: 'POST',
    headers: KEY,
    body: JSON.stringify({
      name: 'cuda-test',
      image: 'ghcr.io/example/trainer:1',
      gpu: { id: 'NVIDIA GeForce RTX 4090', count: 1, ...gpu },
      cloud: 'SECURE',
    }),
  });
  const body = (await response.json()) as { id?: string; cudaVersion?: string; detail?: string };
  if (body.id !== undefined)
    await fetch(`${state.url}/v2/pods/${body.id}`, { method: 'DELETE', headers: KEY });
  return { status: response.status, body };
}

describe('RunPod: CUDA at create', () => {
  it.each([
    ['nothing said: the oldest host', {}, 201, '11.8'],
    ['minCudaVersion', { minCudaVersion: '12.8' }, 201, '12.8'],
    ['allowedCudaVersions', { allowedCudaVersions: ['12.4'] }, 201, '12.4'],
    ['a floor no host has: refused as capacity (400)', { minCudaVersion: '14.0' }, 400, undefined],
  ])('the simulator places: %s', async (_label, gpu, status, cuda) => {
    const { status: got, body } = await create(gpu);
    expect(got).toBe(status);
    expect(body.cudaVersion).toBe(cuda);
  });

  it.each([
    [{ min: '12.8' }, { minCudaVersion: '12.8' }],
    [{ exact: '12.4' }, { allowedCudaVersions: ['12.4'] }],
    [{ exact: '12' }, { allowedCudaVersions: ['12.0'] }],
  ])('the adapter sends %j as %j', async (cuda, expected) => {
    const sent: Record<string, unknown>[] = [];
    const provider = new RunPodProvider({
      baseUrl: state.url,
      apiKey: 'k',
      fetch: async (input, init) => {
        if (init?.method === 'POST') sent.push(JSON.parse(String(init.body)) as Record<string, unknown>);
        return fetch(input, init);
      },
    });
    const [offer] = await provider.listOffers(aRequirements('runpod'), {});
    if (offer === undefined) throw new Error('no offer');
    const result = await provider.create(offer, aLaunch({ cuda }), aTag(), {});
    expect(sent[0]?.gpu).toMatchObject(expected);
    if (result.outcome === 'created') await provider.destroy(result.instance.id, {});
  });
});

describe('RunPod: a running pod’s ports as a live pod lists them (runpod audit #8, pod 63056175606)', () => {
  it('lists an unrequested http port on a CGNAT address first; the adapter takes the public tcp address', async () => {
    const clock = { now: Date.now() };
    const live = new RunPodSim({
      seed: 6,
      now: () => clock.now,
      timings: { provisionMs: 1, startingMs: 1, portsMs: 1 },
    });
    const url = await live.start();
    try {
      const provider = new RunPodProvider({ baseUrl: url, apiKey: 'k' });
      const [offer] = await provider.listOffers(aRequirements('runpod'), {});
      if (offer === undefined) throw new Error('no offer');
      const created = await provider.create(offer, aLaunch(), aTag(), {});
      if (created.outcome !== 'created') throw new Error(`expected created, got ${created.outcome}`);
      clock.now += 60_000;
      const raw = (await (await fetch(`${url}/v2/pods/${created.instance.id}`, { headers: KEY })).json()) as {
        runtime: { ports: { ip: string; type: string }[] };
      };
      expect(raw.runtime.ports[0]).toMatchObject({ ip: '100.65.14.155', type: 'http' });
      const shown = await provider.get(created.instance.id, {});
      expect(shown?.publicIp).toMatch(/^213\.173\.\d+\.\d+$/);
      await provider.destroy(created.instance.id, {});
    } finally {
      await live.stop();
    }
  });
});
