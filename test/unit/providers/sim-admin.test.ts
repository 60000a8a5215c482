import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';

const vastai = new VastAiSim({ seed: 9, offers: 100 });
const runpod = new RunPodSim({ seed: 9 });
let vastUrl = '';
let runpodUrl = '';

beforeAll(async () => {
  vastUrl = await vastai.start();
  runpodUrl = await runpod.start();
});
afterAll(async () => {
  await vastai.stop();
  await runpod.stop();
});

const auth = { authorization: 'Bearer k', 'content-type': 'application/json' };
const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function searchIds(url: string): Promise<number[]> {
  const response = await fetch(`${url}/api/v0/bundles/`, {
    method: 'POST',
    headers: auth,
    body: '{"limit":5}',
  });
  const body = (await response.json()) as { offers: { id: number }[] };
  return body.offers.map((o) => o.id);
}

describe('simulator admin API under /__sim/', () => {
  it('lists rented instances and resets the market', async () => {
    const [ask] = await searchIds(vastUrl);
    await fetch(`${vastUrl}/api/v0/asks/${ask}/`, {
      method: 'PUT',
      headers: auth,
      body: '{"image":"x","label":"l"}',
    });
    const listed = (await (await fetch(`${vastUrl}/__sim/instances`)).json()) as { label: string }[];
    expect(listed.map((i) => i.label)).toEqual(['l']);
    expect((await post(`${vastUrl}/__sim/reset`, {})).status).toBe(200);
    expect(await (await fetch(`${vastUrl}/__sim/instances`)).json()).toEqual([]);
    expect(await searchIds(vastUrl)).toContain(ask);
  });

  it('injects faults that the next request meets', async () => {
    await post(`${runpodUrl}/__sim/faults`, {
      inject: [{ endpoint: 'list', action: 'status', status: 503 }],
    });
    const faulted = await fetch(`${runpodUrl}/v2/pods`, { headers: auth });
    const next = await fetch(`${runpodUrl}/v2/pods`, { headers: auth });
    expect([faulted.status, next.status]).toEqual([503, 200]);
    expect(faulted.headers.get('content-type')).toBe('application/problem+json');
  });

  it('takes the service down with 503 and back', async () => {
    await post(`${vastUrl}/__sim/down`, { mode: '503' });
    const down = await fetch(`${vastUrl}/api/v1/instances/`, { headers: auth });
    await post(`${vastUrl}/__sim/down`, { mode: false });
    const up = await fetch(`${vastUrl}/api/v1/instances/`, { headers: auth });
    expect([down.status, up.status]).toEqual([503, 200]);
  });

  it('refuses to close the port through the admin API (it would close itself)', async () => {
    expect((await post(`${vastUrl}/__sim/down`, { mode: 'refuse' })).status).toBe(400);
  });

  it.each([
    [() => `${vastUrl}/__sim/machine-plan`, { machineId: 1, plan: 'oci-error' }],
    [() => `${vastUrl}/__sim/image-plan`, { image: 'bad:1', plan: 'image-pull-error' }],
    [() => `${vastUrl}/__sim/credit`, { usd: 5 }],
    [() => `${runpodUrl}/__sim/gpu-plan`, { gpuTypeId: 'NVIDIA L4', plan: 'error' }],
    [() => `${runpodUrl}/__sim/balance`, { usd: 5 }],
    [() => `${runpodUrl}/__sim/forbid-pool`, { gpuTypeId: 'NVIDIA L4' }],
  ])('accepts a behaviour setting (%#)', async (url, body) => {
    expect((await post(url(), body)).status).toBe(200);
  });

  it('answers 404 for an unknown admin action', async () => {
    expect((await post(`${vastUrl}/__sim/nonsense`, {})).status).toBe(404);
  });
});

describe('simulated markets', () => {
  it('are the same for the same seed and differ for another', async () => {
    const twin = new VastAiSim({ seed: 9, offers: 100 });
    const other = new VastAiSim({ seed: 10, offers: 100 });
    const twinUrl = await twin.start();
    const otherUrl = await other.start();
    try {
      const mine = await searchIds(vastUrl);
      expect(await searchIds(twinUrl)).toEqual(mine);
      expect(await searchIds(otherUrl)).not.toEqual(mine);
    } finally {
      await twin.stop();
      await other.stop();
    }
  });

  it('report driver VRAM (an RTX 4090 is 24564 MB) and hold exactly the offers asked for', async () => {
    const big = new VastAiSim({ seed: 4, offers: 5000 });
    const url = await big.start();
    try {
      const response = await fetch(`${url}/api/v0/bundles/`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ limit: 10_000 }),
      });
      const { offers } = (await response.json()) as { offers: { gpu_name: string; gpu_ram: number }[] };
      expect(offers).toHaveLength(5000);
      expect(new Set(offers.filter((o) => o.gpu_name === 'RTX 4090').map((o) => o.gpu_ram))).toEqual(
        new Set([24564]),
      );
      expect(new Set(offers.map((o) => o.gpu_name)).size).toBeGreaterThan(10);
    } finally {
      await big.stop();
    }
  });

  it('roll injected fault rates from the seed: same seed, same faults', async () => {
    const statuses = async (seed: number) => {
      const sim = new RunPodSim({ seed });
      const url = await sim.start();
      sim.setFaultRates({ rate429: 0.2, rate5xx: 0.2 });
      const seen: number[] = [];
      for (let i = 0; i < 20; i++) seen.push((await fetch(`${url}/v2/pods`, { headers: auth })).status);
      await sim.stop();
      return seen;
    };
    const first = await statuses(77);
    expect(await statuses(77)).toEqual(first);
    expect(first.some((s) => s !== 200)).toBe(true);
    expect(first.some((s) => s === 200)).toBe(true);
  });
});
