import { describe, expect, it } from 'vitest';
import { select } from '../../lib/filter/select.ts';
import { PROVIDER_GPU_NAMES } from '../../lib/offers/gpu-catalog.ts';
import type { Offer } from '../../lib/offers/offer.ts';
import { VastAiProvider } from '../../lib/providers/vastai/provider.ts';
import { VastAiSim } from '../../lib/sim/vastai/vastai-sim.ts';
import { aLaunch, aRequirements, aTag } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * The Vast market as it really is (vast audit 2026-12, rows 5, 6, 12, 15 and "What anex
 * ignores": reliability), first in the simulator, then through the adapter.
 */

const sim = new VastAiSim({ seed: 5, offers: 4000 });
const state = useSim(sim);

type Row = Record<string, unknown> & { id: number; machine_id: number; gpu_name: string };

async function search(body: Record<string, unknown>): Promise<Row[]> {
  const response = await fetch(`${state.url}/api/v0/bundles/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ limit: 10_000, ...body }),
  });
  return ((await response.json()) as { offers: Row[] }).offers;
}

/** The adapter against the simulator, keeping every search body it sends. */
function recordingProvider() {
  const sent: Record<string, unknown>[] = [];
  const provider = new VastAiProvider({
    baseUrl: state.url,
    apiKey: 'k',
    searchLimit: 10_000,
    fetch: async (input, init) => {
      if (String(input).includes('/bundles/'))
        sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
      return fetch(input, init);
    },
  });
  return { provider, sent };
}

describe('Vast GPU names: the whole gpulist (vast audit #5, vast-cli vastai/data/query.py)', () => {
  it('the simulated market lists models from all of Vast gpulist, not a handful', async () => {
    const names = new Set((await search({})).map((row) => row.gpu_name));
    expect(names.size).toBeGreaterThan(80);
    for (const name of names) expect(PROVIDER_GPU_NAMES.vastai).toContain(name);
  });

  // Names the old table lacked: no gpu_name filter was sent and the 1000 cheapest offers of any
  // GPU came back, so these cards could be missed entirely.
  it.each([
    'RTX A4500',
    'RTX 2080 Ti',
    'RTX 3070 Ti',
    'RTX 5070',
    'RTX 4060',
    'RTX 5880 Ada',
    'Quadro RTX 8000',
  ])('the adapter pushes %s as a gpu_name filter and finds only that model', async (name) => {
    const { provider, sent } = recordingProvider();
    const offers = await provider.listOffers(aRequirements('vastai', { gpuNames: [name] }), {});
    const filter = sent[0]?.gpu_name as { in: string[] } | undefined;
    expect(filter?.in).toHaveLength(1);
    const wanted = filter?.in[0];
    expect(offers.length).toBeGreaterThan(0);
    expect(offers.filter((o) => o.gpuName !== wanted)).toEqual([]);
  });

  it('a model only RunPod lists matches no Vast offer, and no search is sent', async () => {
    const { provider, sent } = recordingProvider();
    expect(
      await provider.listOffers(aRequirements('vastai', { gpuNames: ['RTX 4000 Ada SFF'] }), {}),
    ).toEqual([]);
    expect(sent).toEqual([]);
  });
});

describe('Vast RAM and CPU: the host total vs the instance share (vast audit #6, gpuhunt vastai.py)', () => {
  it('the simulator lists slices of a multi-GPU host, each with the host cpu_ram/cpu_cores and its share', async () => {
    const rows = await search({});
    const byMachine = Map.groupBy(rows, (row) => row.machine_id);
    const sliced = [...byMachine.values()].filter((asks) => asks.length > 1);
    expect(sliced.length).toBeGreaterThan(20);
    expect(sliced.some((asks) => asks.some((row) => row.num_gpus === 1))).toBe(true);
    for (const asks of sliced) {
      const whole = asks.reduce((a, b) => ((a.num_gpus as number) >= (b.num_gpus as number) ? a : b));
      for (const row of asks) {
        expect(row.cpu_ram).toBe(whole.cpu_ram);
        expect(row.cpu_cores).toBe(whole.cpu_cores);
        expect(row.gpu_frac).toBeCloseTo((row.num_gpus as number) / (whole.num_gpus as number));
        expect(row.cpu_cores_effective).toBeCloseTo((row.cpu_cores as number) * (row.gpu_frac as number), 1);
      }
    }
  });

  it('ram-min keeps only offers whose share is enough, though the host total passes the server filter', async () => {
    const { provider, sent } = recordingProvider();
    const requirements = aRequirements('vastai', {
      ramMb: { min: 128_000 },
      vastai: { verifiedOnly: false },
    });
    const offers = await provider.listOffers(requirements, {});
    expect(sent[0]?.cpu_ram).toEqual({ gte: 128_000 });
    const hostRam = new Map((await search({})).map((row) => [String(row.id), row.cpu_ram as number]));
    const slices = offers.filter((o) => (o.ramMb ?? 0) < 128_000);
    expect(slices.length).toBeGreaterThan(0);
    expect(slices.every((o) => (hostRam.get(o.offerId) ?? 0) >= 128_000)).toBe(true);
    const kept = select(requirements, offers, [], Date.now());
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.every((o: Offer) => (o.ramMb ?? 0) >= 128_000)).toBe(true);
    expect(kept.map((o) => o.offerId)).not.toContain(slices[0]?.offerId);
  });
});

describe('Vast reliability (vast audit "What anex ignores"; search_offers.yaml `reliability {"gte": 0.99}`)', () => {
  it('the simulator reports varied reliability and filters on reliability and its alias reliability2', async () => {
    const all = await search({});
    const scores = all.map((row) => row.reliability as number);
    expect(Math.min(...scores)).toBeLessThan(0.8);
    expect(Math.max(...scores)).toBeGreaterThan(0.99);
    const high = await search({ reliability: { gte: 0.97 } });
    expect(high.length).toBeGreaterThan(0);
    expect(high.length).toBeLessThan(all.length);
    expect(high.every((row) => (row.reliability as number) >= 0.97)).toBe(true);
    expect((await search({ reliability2: { gte: 0.97 } })).map((row) => row.id)).toEqual(
      high.map((row) => row.id),
    );
  });

  it('the adapter pushes reliability-min and every offer it returns meets it, cheapest first', async () => {
    const { provider, sent } = recordingProvider();
    const requirements = aRequirements('vastai', { vastai: { verifiedOnly: false, reliabilityMin: 0.97 } });
    const offers = await provider.listOffers(requirements, {});
    expect(sent[0]?.reliability).toEqual({ gte: 0.97 });
    expect(offers.length).toBeGreaterThan(0);
    expect(offers.every((o) => (o.reliability ?? 0) >= 0.97)).toBe(true);
    const ranked = select(requirements, offers, [], Date.now()).map((o) => o.pricePerHour);
    expect(ranked).toEqual([...ranked].sort((a, b) => a - b));
  });
});

describe('Vast `rented` (vast audit #12: search_offers.yaml, vast-cli 52b515c)', () => {
  it('the server ignores rented; asks rented by anyone are hidden by rentable', async () => {
    const [first] = await search({ rentable: { eq: true } });
    if (!first) throw new Error('empty market');
    sim.takeAsk(first.id);
    const ids = async (body: Record<string, unknown>) => (await search(body)).map((row) => row.id);
    expect(await ids({ rented: { eq: false } })).toContain(first.id);
    expect(await ids({ rentable: { eq: true } })).not.toContain(first.id);
    expect((await search({})).find((row) => row.id === first.id)).toMatchObject({
      rentable: false,
      rented: false,
    });
  });
});

describe('Vast extra_env (vast audit #15: show_instances.yaml example)', () => {
  it('echoes the -p port keys, and the adapter still reads its tag', async () => {
    const { provider } = recordingProvider();
    const [offer] = await provider.listOffers(
      aRequirements('vastai', { vastai: { verifiedOnly: false } }),
      {},
    );
    if (!offer) throw new Error('no offer');
    const created = await provider.create(offer, aLaunch({ ports: ['8080/http'] }), aTag(), {});
    if (created.outcome !== 'created') throw new Error(created.outcome);
    try {
      const response = await fetch(`${state.url}/api/v0/instances/${created.instance.id}/`, {
        headers: { authorization: 'Bearer k' },
      });
      const { instances } = (await response.json()) as { instances: { extra_env: string[][] } };
      expect(instances.extra_env).toContainEqual(['-p 8080:8080', '1']);
      expect((await provider.listTagged({})).map((i) => i.id)).toContain(created.instance.id);
    } finally {
      await provider.destroy(created.instance.id, {});
    }
  });
});
