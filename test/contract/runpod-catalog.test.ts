import { describe, expect, it } from 'vitest';
import { RunPodProvider } from '../../lib/providers/runpod/provider.ts';
import { RUNPOD_DATA_CENTERS, UNKNOWN_SENTINEL_ROW } from '../../lib/sim/runpod/catalog.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { aRequirements } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

const RTX = 'NVIDIA GeForce RTX 4090';
const sim = new RunPodSim({ seed: 43 });
const state = useSim(sim);

/** Only EU-RO-1 SECURE has RTX 4090s, and only `free` of them. */
function onlyRomania(free: number): void {
  for (const dc of RUNPOD_DATA_CENTERS) {
    sim.setStock(RTX, dc.id, 'SECURE', 0);
    sim.setStock(RTX, dc.id, 'COMMUNITY', 0);
  }
  sim.setStock(RTX, 'EU-RO-1', 'SECURE', free);
}

async function gpuList(query: string) {
  const response = await fetch(`${state.url}/v2/catalog/gpus?include=AVAILABILITY&product=POD&${query}`, {
    headers: { authorization: 'Bearer k' },
  });
  const body = (await response.json()) as {
    gpus: { id: string; maxCount: { secure: number }; dataCenters?: { id: string }[] }[];
  };
  return body.gpus.find((g) => g.id === RTX);
}

/**
 * Availability is per GPU count (docs `count`: "GPU count for availability and lowest-price
 * calculations … Defaults to 1"; `maxCount`: "This is a ceiling, not a stock level — it does
 * not mean that many GPUs are free right now"; gpuhunt asks each count; runpod audit #4).
 */
describe('RunPod catalog: availability for the asked GPU count (runpod audit #4)', () => {
  it('the simulator lists a data center for a count only when that many GPUs are free there', async () => {
    onlyRomania(2);
    expect((await gpuList('count=2&cloud=SECURE'))?.dataCenters?.map((d) => d.id)).toEqual(['EU-RO-1']);
    const four = await gpuList('count=4&cloud=SECURE');
    expect(four?.dataCenters).toEqual([]);
    expect(four?.maxCount.secure).toBe(8);
  });

  it('the adapter asks the catalog once per allowed count and offers only counts that have stock', async () => {
    onlyRomania(2);
    const asked: string[] = [];
    const provider = new RunPodProvider({
      baseUrl: state.url,
      apiKey: 'k',
      fetch: async (input, init) => {
        const url = new URL(String(input));
        if (url.pathname === '/v2/catalog/gpus') asked.push(url.searchParams.get('count') ?? '');
        return fetch(input, init);
      },
    });
    const offers = await provider.listOffers(
      aRequirements('runpod', {
        gpuCount: { min: 1, max: 4 },
        runpod: { cloudTypes: ['SECURE'], keepGpuTypePriority: false },
      }),
      {},
    );
    expect(asked).toEqual(['1', '2', '3', '4']);
    const rtx = offers.filter((o) => o.gpuTypeId === RTX);
    expect(rtx.map((o) => `${o.dataCenterId}×${o.gpuCount}`).sort()).toEqual(['EU-RO-1×1', 'EU-RO-1×2']);
  });
});

/**
 * One catalog row anex cannot read is skipped, never the whole catalog (runpod audit #14:
 * [3P] pitwall "the API's `unknown` sentinel row (0 GB, $0, both cloud flags false)"; docs
 * `GpuManufacturer` has `UNKNOWN`; enum values may be added upstream).
 */
describe('RunPod catalog: read row by row (runpod audit #14)', () => {
  it.each([
    ['the unknown sentinel', UNKNOWN_SENTINEL_ROW, 'unknown'],
    [
      'a row with an availability value added upstream',
      { ...UNKNOWN_SENTINEL_ROW, id: 'NVIDIA Future', name: 'Future', availability: 'SCARCE' },
      'NVIDIA Future',
    ],
  ])('%s is skipped and reported; the other offers stay', async (_label, row, id) => {
    const told: string[] = [];
    const provider = new RunPodProvider({ baseUrl: state.url, apiKey: 'k', onOddRow: (m) => told.push(m) });
    const before = (await provider.listOffers(aRequirements('runpod'), {})).length;
    sim.addOddRow(row);
    const after = await provider.listOffers(aRequirements('runpod'), {});
    await provider.listOffers(aRequirements('runpod'), {});

    expect(after.length).toBe(before);
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(`runpod catalog response: skipped GPU type "${id}": `);
  });
});
