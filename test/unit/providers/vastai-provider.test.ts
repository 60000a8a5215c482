import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Requirements } from '../../../lib/annotations/requirements.ts';
import type { AnexError } from '../../../lib/errors.ts';
import type { Offer } from '../../../lib/offers/offer.ts';
import { formatTag, type Instance } from '../../../lib/providers/provider.ts';
import { VastAiProvider, type VastAiProviderOptions } from '../../../lib/providers/vastai/provider.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import {
  aLaunch,
  aRequirements,
  aTag,
  CLUSTER,
  manualClock,
  recordingFetch,
  recordingSleep,
} from './builders.ts';

const clock = manualClock();
const sim = new VastAiSim({
  seed: 7,
  offers: 3000,
  now: clock.now,
  timings: { provisionMs: 5, loadingMs: 20 },
});
let url = '';

beforeAll(async () => {
  url = await sim.start();
});
afterAll(async () => {
  await sim.stop();
});
afterEach(() => {
  // A test that leaves an instance behind fails here (money safety).
  try {
    sim.assertNoInstances();
  } finally {
    sim.reset();
  }
});

function setup(options: Partial<VastAiProviderOptions> = {}) {
  const recorder = recordingFetch();
  const sleeper = recordingSleep();
  const provider = new VastAiProvider({
    baseUrl: url,
    apiKey: 'test-key',
    clusterId: CLUSTER,
    fetch: recorder.fetch,
    sleep: sleeper.sleep,
    searchLimit: 5000,
    ...options,
  });
  return { provider, requests: recorder.requests, delays: sleeper.delays };
}

async function error(promise: Promise<unknown>): Promise<AnexError> {
  try {
    await promise;
  } catch (caught) {
    return caught as AnexError;
  }
  throw new Error('expected a failure');
}

async function rentOne(provider: VastAiProvider, offer?: Offer) {
  const target = offer ?? (await provider.listOffers(aRequirements('vastai'), {}))[0];
  if (!target) throw new Error('no offer');
  const tag = aTag();
  const result = await provider.create(target, aLaunch(), tag, {});
  if (result.outcome !== 'created') throw new Error(`expected created, got ${result.outcome}`);
  return { offer: target, instance: result.instance, tag };
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
      (o) => ['RTX 4080S', 'A100 SXM4'].includes(o.gpuName),
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
    ['cpu_ram', { ramMb: { min: 256_000 } }, 'cpu_ram', (o) => (o.ramMb ?? 0) >= 256_000],
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

  it('always sends rentable/rented, allocated_storage, cheapest-first order and a limit', async () => {
    const { provider, requests } = setup({ searchLimit: 40 });
    const offers = await provider.listOffers(aRequirements('vastai', { diskToAllocateGb: 120 }), {});
    expect(requests[0]?.body).toMatchObject({
      rentable: { eq: true },
      rented: { eq: false },
      allocated_storage: 120,
      order: [
        ['dph_total', 'asc'],
        ['id', 'asc'],
      ],
      limit: 40,
    });
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

describe('VastAiProvider.create, get and destroy against the simulator', () => {
  it('rents with label, env object, args runtype and cancel_unavail', async () => {
    const { provider, requests } = setup();
    const tag = aTag();
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    const launch = aLaunch({ command: ['/agent', '--run'], args: ['python', 'x.py'], ports: ['8080/tcp'] });
    const result = await provider.create(offer as Offer, launch, tag, {});
    const put = requests.find((r) => r.method === 'PUT');
    expect(put?.url.pathname).toBe(`/api/v0/asks/${offer?.offerId}/`);
    expect(put?.body).toMatchObject({
      image: launch.image,
      disk: 20,
      label: formatTag(tag),
      runtype: 'args',
      args: ['python', 'x.py'],
      onstart: '/agent --run',
      cancel_unavail: true,
      env: {
        ANEX_TAG: formatTag(tag),
        ANEX_POD_UID: tag.podUid,
        AGENT_URL: 'https://agent.example',
        '-p 8080:8080': '1',
      },
    });
    expect(result.outcome).toBe('created');
    if (result.outcome === 'created') {
      expect(result.instance.tag).toEqual(tag);
      await provider.destroy(result.instance.id, {});
    }
  });

  it('walks pending → starting → running as the simulated clock advances', async () => {
    const { provider } = setup();
    const { instance } = await rentOne(provider);
    const phases = [(await provider.get(instance.id, {})).state.phase];
    clock.advance(6);
    phases.push((await provider.get(instance.id, {})).state.phase);
    clock.advance(30);
    phases.push((await provider.get(instance.id, {})).state.phase);
    expect(phases).toEqual(['pending', 'starting', 'running']);
    await provider.destroy(instance.id, {});
  });

  it.each([
    ['oci-error', { phase: 'failed', fault: 'host' }],
    ['image-pull-error', { phase: 'failed', fault: 'image' }],
    ['exited', { phase: 'failed', fault: 'host' }],
    ['offline', { phase: 'failed', fault: 'host' }],
    ['never-start', { phase: 'starting' }],
  ] as const)('classifies a machine that does %s', async (plan, expected) => {
    const { provider } = setup();
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    sim.setMachinePlan(Number(offer?.machineId), plan);
    const { instance } = await rentOne(provider, offer);
    clock.advance(10_000);
    const seen = await provider.get(instance.id, {});
    expect(seen.state).toMatchObject(expected);
    await provider.destroy(instance.id, {});
  });

  it('reports a taken ask as offer-gone, not an error (410 and 404 no_such_ask)', async () => {
    const { provider } = setup();
    const offers = await provider.listOffers(aRequirements('vastai'), {});
    const { instance } = await rentOne(provider, offers[0]);
    const again = await provider.create(offers[0] as Offer, aLaunch(), aTag(), {});
    sim.takeAsk(Number(offers[1]?.offerId));
    const raced = await provider.create(offers[1] as Offer, aLaunch(), aTag(), {});
    const unknown = await provider.create({ ...(offers[2] as Offer), offerId: '1' }, aLaunch(), aTag(), {});
    expect([again.outcome, raced.outcome, unknown.outcome]).toEqual([
      'offer-gone',
      'offer-gone',
      'offer-gone',
    ]);
    await provider.destroy(instance.id, {});
  });

  it('destroys once, then answers gone; get of a destroyed id is gone', async () => {
    const { provider } = setup();
    const { instance } = await rentOne(provider);
    expect(await provider.destroy(instance.id, {})).toBe('destroyed');
    expect(await provider.destroy(instance.id, {})).toBe('gone');
    expect((await provider.get(instance.id, {})).state).toEqual({ phase: 'gone' });
  });

  it('throws balance when the account has no credit', async () => {
    const { provider } = setup();
    sim.setCredit(0);
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    expect((await error(provider.create(offer as Offer, aLaunch(), aTag(), {}))).kind).toBe('balance');
  });

  it('throws invalid-input for a request the API rejects', async () => {
    const { provider } = setup();
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    const failure = await error(provider.create(offer as Offer, aLaunch({ image: '' }), aTag(), {}));
    expect(failure.kind).toBe('invalid-input');
    expect(failure.message).toContain('image is required');
  });
});

describe('VastAiProvider.listTagged against the simulator', () => {
  it('pages through more than 25 instances and keeps only this cluster', async () => {
    const { provider, requests } = setup();
    const offers = await provider.listOffers(aRequirements('vastai'), {});
    const ours: Instance[] = [];
    for (const offer of offers.slice(0, 30)) ours.push((await rentOne(provider, offer)).instance);
    const other = new VastAiProvider({ baseUrl: url, apiKey: 'k', clusterId: 'other' });
    const foreign = await other.create(offers[30] as Offer, aLaunch(), aTag('other'), {});
    const tagged = await provider.listTagged({});
    expect(tagged.map((i) => i.id).sort()).toEqual(ours.map((i) => i.id).sort());
    expect(requests.filter((r) => r.url.pathname === '/api/v1/instances/').length).toBe(2);
    expect(requests.some((r) => r.url.searchParams.get('after_token'))).toBe(true);
    for (const instance of ours) await provider.destroy(instance.id, {});
    if (foreign.outcome === 'created') await other.destroy(foreign.instance.id, {});
  });
});

describe('VastAiProvider under faults', () => {
  it('retries a plain-text 429 (no Retry-After) on search with backoff', async () => {
    const { provider, requests, delays } = setup();
    sim.inject({ endpoint: 'search', action: 'rate-limit', count: 2 });
    const offers = await provider.listOffers(aRequirements('vastai'), {});
    expect(offers.length).toBeGreaterThan(0);
    expect(requests).toHaveLength(3);
    expect(delays).toHaveLength(2);
  });

  it('reports rate-limited when the per-endpoint limit keeps refusing', async () => {
    const { provider } = setup({ maxAttempts: 3 });
    const { instance } = await rentOne(provider);
    sim.setRateLimit('show', { limit: 1, windowMs: 60_000 });
    await provider.get(instance.id, {});
    expect((await error(provider.get(instance.id, {}))).kind).toBe('rate-limited');
    sim.setRateLimit('show', undefined);
    await provider.destroy(instance.id, {});
  });

  it('retries 5xx on a read', async () => {
    const { provider, requests } = setup();
    const { instance } = await rentOne(provider);
    sim.inject({ endpoint: 'show', action: 'status', status: 502, count: 2 });
    expect((await provider.get(instance.id, {})).id).toBe(instance.id);
    expect(requests.filter((r) => r.method === 'GET')).toHaveLength(3);
    await provider.destroy(instance.id, {});
  });

  it('never resends a create answered 5xx: unknown-outcome, then listTagged finds the instance', async () => {
    const { provider, requests } = setup();
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    sim.inject({ endpoint: 'create', action: 'status', status: 500, after: true });
    const tag = aTag();
    const failure = await error(provider.create(offer as Offer, aLaunch(), tag, {}));
    expect(failure.kind).toBe('unknown-outcome');
    expect(requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    const found = (await provider.listTagged({})).filter((i) => i.tag?.podUid === tag.podUid);
    expect(found).toHaveLength(1);
    await provider.destroy(found[0]?.id ?? '', {});
  });

  it('resends a create refused with 429 and rents exactly once', async () => {
    const { provider, requests } = setup();
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    sim.inject({ endpoint: 'create', action: 'rate-limit' });
    const result = await provider.create(offer as Offer, aLaunch(), aTag(), {});
    expect(result.outcome).toBe('created');
    expect(requests.filter((r) => r.method === 'PUT')).toHaveLength(2);
    expect(sim.liveInstances()).toHaveLength(1);
    if (result.outcome === 'created') await provider.destroy(result.instance.id, {});
  });

  it('times out a read that never answers', async () => {
    const { provider } = setup({ timeoutMs: 30, maxAttempts: 2 });
    sim.inject({ endpoint: 'show', action: 'hang', count: 2 });
    expect((await error(provider.get('9500000', {}))).kind).toBe('timeout');
  });

  it('turns a create whose answer never comes into unknown-outcome; listTagged finds it', async () => {
    const { provider } = setup();
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    // Only the create runs with a short timeout: a loaded CI machine must not time out the search.
    const { provider: impatient } = setup({ timeoutMs: 300 });
    sim.inject({ endpoint: 'create', action: 'hang', after: true });
    const tag = aTag();
    expect((await error(impatient.create(offer as Offer, aLaunch(), tag, {}))).kind).toBe('unknown-outcome');
    const found = (await provider.listTagged({})).filter((i) => i.tag?.podUid === tag.podUid);
    expect(found).toHaveLength(1);
    await provider.destroy(found[0]?.id ?? '', {});
  });

  it.each([['503'], ['refuse']] as const)(
    'reports unavailable when the service is down (%s)',
    async (mode) => {
      const { provider } = setup({ maxAttempts: 2 });
      await sim.setDown(mode);
      try {
        expect((await error(provider.listOffers(aRequirements('vastai'), {}))).kind).toBe('unavailable');
      } finally {
        await sim.setDown(false);
      }
      expect((await provider.listOffers(aRequirements('vastai'), {})).length).toBeGreaterThan(0);
    },
  );
});

describe('VastAiProvider with a wrong key', () => {
  const guarded = new VastAiSim({ seed: 3, offers: 50, apiKeys: ['the-right-key'] });
  let guardedUrl = '';
  beforeAll(async () => {
    guardedUrl = await guarded.start();
  });
  afterAll(async () => {
    guarded.assertNoInstances();
    await guarded.stop();
  });

  it.each([
    ['get (401 auth_error)', (p: VastAiProvider) => p.get('1', {})],
    ['search (404 "Invalid user key")', (p: VastAiProvider) => p.listOffers(aRequirements('vastai'), {})],
    ['listTagged', (p: VastAiProvider) => p.listTagged({})],
  ])('throws auth without the key in the message: %s', async (_name, call) => {
    const provider = new VastAiProvider({ baseUrl: guardedUrl, apiKey: 'wrong-key-abcdef' });
    const failure = await error(call(provider));
    expect(failure.kind).toBe('auth');
    expect(failure.message).not.toContain('wrong-key-abcdef');
  });

  it('throws auth when no key is sent', async () => {
    const provider = new VastAiProvider({ baseUrl: guardedUrl, apiKey: '' });
    expect((await error(provider.get('1', {}))).kind).toBe('auth');
  });
});

describe('VastAiSim leak check', () => {
  it('fails assertNoInstances while an instance is alive', async () => {
    const { provider } = setup();
    const { instance } = await rentOne(provider);
    expect(() => sim.assertNoInstances()).toThrow(/leaked/);
    await provider.destroy(instance.id, {});
    expect(() => sim.assertNoInstances()).not.toThrow();
  });
});
