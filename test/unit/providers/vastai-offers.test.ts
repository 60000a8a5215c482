import { describe, expect, it } from 'vitest';
import type { Requirements } from '../../../lib/annotations/requirements.ts';
import type { Offer } from '../../../lib/offers/offer.ts';
import type { VastAiProvider } from '../../../lib/providers/vastai/provider.ts';
import { aLaunch, aRequirements, aTag } from './builders.ts';
import { useVastSim } from './harness.ts';

const { setup } = useVastSim({ seed: 7, offers: 3000, timings: { provisionMs: 5, loadingMs: 20 } });

async function rentOne(provider: VastAiProvider, offer?: Offer) {
  const target = offer ?? (await provider.listOffers(aRequirements('vastai'), {}))[0];
  if (!target) throw new Error('no offer');
  const result = await provider.create(target, aLaunch(), aTag(), {});
  if (result.outcome !== 'created') throw new Error(`expected created, got ${result.outcome}`);
  return { offer: target, instance: result.instance };
}

type FilterRow = [string, Partial<Requirements>, string, (offer: Offer) => boolean];

describe('VastAiProvider.listOffers against the simulator', () => {
  const rows: FilterRow[] = [
    ['verified', { vastai: { verifiedOnly: true } }, 'verified', (o) => o.verified === true],
    [
      'datacenter',
      { vastai: { verifiedOnly: false, datacenterOnly: true } },
      'datacenter',
      (o) => o.datacenter === true,
    ],
    [
      'gpu_name in',
      { gpuNames: ['RTX 4080 SUPER', 'A100 SXM'] },
      'gpu_name',
      (o) => ['RTX 4080S', 'A100 SXM4', 'A100 SXM'].includes(o.gpuName),
    ],
    ['num_gpus', { gpuCount: { min: 2, max: 4 } }, 'num_gpus', (o) => o.gpuCount >= 2 && o.gpuCount <= 4],
    ['gpu_ram', { vramMb: { min: 24564 } }, 'gpu_ram', (o) => o.vramMb >= 24564],
    ['gpu_total_ram', { vramTotalMb: { min: 80_000 } }, 'gpu_total_ram', (o) => o.vramTotalMb >= 80_000],
    [
      'gpu_mem_bw',
      { vramBandwidthGBps: { min: 2000 } },
      'gpu_mem_bw',
      (o) => (o.vramBandwidthGBps ?? 0) >= 2000,
    ],
    ['total_flops', { tflops: { min: 150 } }, 'total_flops', (o) => (o.tflops ?? 0) >= 150],
    ['cpu_cores_effective', { cpuCores: { min: 32 } }, 'cpu_cores_effective', (o) => (o.cpuCores ?? 0) >= 32],
    ['dph_total', { pricePerHour: { max: 0.3 } }, 'dph_total', (o) => o.pricePerHour <= 0.3],
    ['inet_down', { downloadMbps: { min: 5000 } }, 'inet_down', (o) => (o.downloadMbps ?? 0) >= 5000],
    ['inet_up', { uploadMbps: { min: 3000 } }, 'inet_up', (o) => (o.uploadMbps ?? 0) >= 3000],
    ['disk_space', { diskGb: { min: 500 } }, 'disk_space', (o) => (o.diskGb ?? 0) >= 500],
    ['disk_bw', { diskBwMBps: { min: 3000 } }, 'disk_bw', (o) => (o.diskBwMBps ?? 0) >= 3000],
    ['cuda_max_good', { cuda: { min: '12.6' } }, 'cuda_max_good', (o) => Number(o.cudaMax) >= 12.6],
    [
      'compute_cap in',
      { computeCaps: ['8.9', '12.0'] },
      'compute_cap',
      (o) => ['8.9', '12.0'].includes(o.computeCap ?? ''),
    ],
    [
      'dlperf',
      { vastai: { verifiedOnly: false, dlperf: { min: 100 } } },
      'dlperf',
      (o) => (o.dlperf ?? 0) >= 100,
    ],
    [
      'geolocation in',
      { regions: ['europe', 'oceania'] },
      'geolocation',
      (o) => o.region === 'europe' || o.region === 'oceania',
    ],
  ];

  it.each(rows)(
    'pushes %s server-side and the simulator applies it',
    async (_name, overrides, key, holds) => {
      const { provider, requests } = setup();
      const all = await provider.listOffers(aRequirements('vastai'), {});
      const filtered = await provider.listOffers(aRequirements('vastai', overrides), {});
      expect(requests[1]?.body).toHaveProperty(key);
      expect(filtered.length).toBeGreaterThan(0);
      expect(filtered.length).toBeLessThan(all.length);
      expect(filtered.filter((offer) => !holds(offer))).toEqual([]);
    },
  );

  it('always sends rentable (never rented: vast audit #12), allocated_storage, cheapest-first order and a limit', async () => {
    const { provider, requests } = setup({ searchLimit: 40 });
    const offers = await provider.listOffers(aRequirements('vastai', { diskToAllocateGb: 120 }), {});
    expect(requests[0]?.body).toMatchObject({
      rentable: { eq: true },
      allocated_storage: 120,
      order: [
        ['dph_total', 'asc'],
        ['id', 'asc'],
      ],
      limit: 40,
    });
    expect(requests[0]?.body).not.toHaveProperty('rented');
    expect(offers).toHaveLength(40);
    expect(offers.every((o) => (o.diskGb ?? 0) >= 120)).toBe(true);
    const prices = offers.map((o) => o.pricePerHour);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
  });

  it('prices the allocated storage into dph_total', async () => {
    const { provider } = setup();
    const small = await provider.listOffers(aRequirements('vastai', { diskToAllocateGb: 10 }), {});
    const large = await provider.listOffers(aRequirements('vastai', { diskToAllocateGb: 30 }), {});
    const offer = large[0];
    const same = small.find((o) => o.offerId === offer?.offerId);
    expect(same && offer && offer.pricePerHour > same.pricePerHour).toBe(true);
  });

  it('excludes banned machines with machine_id notin', async () => {
    const { provider, requests } = setup();
    const first = await provider.listOffers(aRequirements('vastai'), {});
    const banned = first.slice(0, 5).map((o) => o.machineId ?? '');
    const again = await provider.listOffers(aRequirements('vastai'), { excludeMachineIds: banned });
    expect(requests[1]?.body).toMatchObject({ machine_id: { notin: banned.map(Number) } });
    expect(again.filter((o) => banned.includes(o.machineId ?? ''))).toEqual([]);
  });

  it('does not list an ask once it is rented', async () => {
    const { provider } = setup();
    const { offer, instance } = await rentOne(provider);
    const after = await provider.listOffers(aRequirements('vastai'), {});
    expect(after.map((o) => o.offerId)).not.toContain(offer.offerId);
    await provider.destroy(instance.id, {});
  });
});
