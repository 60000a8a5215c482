import { describe, expect, it, vi } from 'vitest';
import type { Offer } from '../../../lib/offers/offer.ts';
import { HttpClient } from '../../../lib/providers/http/http-client.ts';
import { formatTag, type Instance } from '../../../lib/providers/provider.ts';
import { VAST_CREATE_TIMEOUT_MS } from '../../../lib/providers/vastai/client.ts';
import { VastAiProvider } from '../../../lib/providers/vastai/provider.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { aLaunch, aRequirements, aTag, failureOf as error } from './builders.ts';
import { useVastSim } from './harness.ts';
import { sharedDestroyTests, sharedFaultTests } from './shared-fault-tests.ts';
import { useGuardedSim } from './sim-lifecycle.ts';

const { sim, clock, setup, url } = useVastSim({
  seed: 7,
  offers: 1000,
  timings: { provisionMs: 5, loadingMs: 20 },
});

async function firstOffer(provider: VastAiProvider): Promise<Offer> {
  const [offer] = await provider.listOffers(aRequirements('vastai'), {});
  if (!offer) throw new Error('no offer');
  return offer;
}

async function rentOne(provider: VastAiProvider, offer?: Offer) {
  const target = offer ?? (await provider.listOffers(aRequirements('vastai'), {}))[0];
  if (!target) throw new Error('no offer');
  const tag = aTag();
  const result = await provider.create(target, aLaunch(), tag, {});
  if (result.outcome !== 'created') throw new Error(`expected created, got ${result.outcome}`);
  return { offer: target, instance: result.instance, tag };
}

describe('VastAiProvider.create, get and destroy against the simulator', () => {
  it('rents with label, env object, args runtype in exec form and cancel_unavail', async () => {
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
      // onstart is ONE executable path; the rest of the command, then args, are its argv (vast audit #1)
      onstart: '/agent',
      args: ['--run', 'python', 'x.py'],
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
    // vast audit #7: the container's end; the reconciler decides from the agent's reports
    ['exited', { phase: 'exited' }],
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

  it('puts a destroyed rental back on the market: its ask is listed and rentable again', async () => {
    const { provider } = setup();
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    const { instance } = await rentOne(provider, offer);
    const whileRented = await provider.listOffers(aRequirements('vastai'), {});
    await provider.destroy(instance.id, {});
    const afterDestroy = await provider.listOffers(aRequirements('vastai'), {});
    expect(whileRented.map((o) => o.offerId)).not.toContain(offer?.offerId);
    expect(afterDestroy.map((o) => o.offerId)).toContain(offer?.offerId);
    const { instance: again } = await rentOne(provider, offer);
    await provider.destroy(again.id, {});
  });

  sharedDestroyTests({ setup, rentOne });

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
    for (const offer of offers) {
      if (ours.length === 30) break;
      // A slice of a machine rented a moment ago is gone (410): the market, not a failure.
      const result = await provider.create(offer, aLaunch(), aTag(), {});
      if (result.outcome === 'created') ours.push(result.instance);
    }
    const other = new VastAiProvider({ baseUrl: url(), apiKey: 'k', clusterId: 'other' });
    const spare = offers.filter((o) => !ours.some((i) => i.machineId === o.machineId));
    const foreign = await other.create(spare[0] as Offer, aLaunch(), aTag('other'), {});
    const tagged = await provider.listTagged({});
    expect(ours).toHaveLength(30);
    expect(foreign.outcome).toBe('created');
    expect(tagged.map((i) => i.id).sort()).toEqual(ours.map((i) => i.id).sort());
    expect(requests.filter((r) => r.url.pathname === '/api/v1/instances/').length).toBe(2);
    expect(requests.some((r) => r.url.searchParams.get('after_token'))).toBe(true);
    for (const instance of ours) await provider.destroy(instance.id, {});
    if (foreign.outcome === 'created') await other.destroy(foreign.instance.id, {});
    // 31 creates paced at Vast's create interval (× ANEX_SIM_PACE_SCALE) take a few seconds.
  }, 90_000); // 30 paced creates (4.5 s × the pace scale + the 400 ms jitter guard each) and their destroys
});

describe('VastAiProvider reads the instance list defensively (vast audit #10, #11)', () => {
  it('skips a row it cannot read, says which (no values), and still finds its own instances', async () => {
    const said: string[] = [];
    const { provider } = setup({ onOddRow: (message: string) => said.push(message) });
    sim.addOddRow({
      id: 4242,
      actual_status: 7,
      label: 'someone else',
      extra_env: [['TOKEN', 'secret-value']],
    });
    sim.addOddRow({ label: 'no id at all' });
    const { instance } = await rentOne(provider);
    const tagged = await provider.listTagged({});
    expect(tagged.map((i) => i.id)).toEqual([instance.id]);
    expect(said).toHaveLength(2);
    expect(said[0]).toMatch(/^vastai: skipped instance 4242 in GET \/api\/v1\/instances\/: actual_status: /);
    expect(said[1]).toMatch(/^vastai: skipped instance \(no id\)/);
    expect(said.join('\n')).not.toContain('secret-value');
    await provider.destroy(instance.id, {});
  });

  it('trims the public address (dstack compute.py strips it; vast-cli strips every string)', async () => {
    const { provider } = setup();
    const { instance } = await rentOne(provider);
    clock.advance(60_000);
    const shown = await provider.get(instance.id, {});
    expect(shown?.publicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await provider.destroy(instance.id, {});
  });
});

describe('VastAiProvider under faults', () => {
  sharedFaultTests({
    sim,
    setup,
    offer: firstOffer,
    rentOne,
    createMethod: 'PUT',
    createStatus: 500,
    read: { endpoint: 'show', unknownId: '9500000', transientStatus: 502 },
  });

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

describe('VastAiProvider create timeout (vast audit #9: vast-cli _DEFAULT_TIMEOUT_SECONDS = 120)', () => {
  it('gives the create 120 s per attempt and reads the client default', async () => {
    const send = vi.spyOn(HttpClient.prototype, 'send');
    try {
      const { provider } = setup();
      const { instance } = await rentOne(provider);
      await provider.get(instance.id, {});
      await provider.destroy(instance.id, {});
      const byMethod = send.mock.calls.map(([request]) => [request.method, request.timeoutMs]);
      expect(byMethod).toContainEqual(['PUT', VAST_CREATE_TIMEOUT_MS]);
      expect(byMethod.filter(([method]) => method !== 'PUT').every(([, ms]) => ms === undefined)).toBe(true);
      expect(VAST_CREATE_TIMEOUT_MS).toBe(120_000);
    } finally {
      send.mockRestore();
    }
  });

  it('times a create out at createTimeoutMs, whatever the reads allow (unknown outcome)', async () => {
    const { provider } = setup();
    const target = await firstOffer(provider);
    const { provider: slowReads } = setup({ timeoutMs: 600_000, createTimeoutMs: 30 });
    sim.inject({ endpoint: 'create', action: 'hang', after: true });
    const tag = aTag();
    expect((await error(slowReads.create(target, aLaunch(), tag, {}))).kind).toBe('unknown-outcome');
    const found = (await provider.listTagged({})).filter((i) => i.tag?.podUid === tag.podUid);
    for (const i of found) await provider.destroy(i.id, {});
  });
});

describe('VastAiProvider with a wrong key', () => {
  const guarded = useGuardedSim(new VastAiSim({ seed: 3, offers: 50, apiKeys: ['the-right-key'] }));

  it.each([
    ['get (401 auth_error)', (p: VastAiProvider) => p.get('1', {})],
    ['search (404 "Invalid user key")', (p: VastAiProvider) => p.listOffers(aRequirements('vastai'), {})],
    ['listTagged', (p: VastAiProvider) => p.listTagged({})],
  ])('throws auth without the key in the message: %s', async (_name, call) => {
    const provider = new VastAiProvider({ baseUrl: guarded.url, apiKey: 'wrong-key-abcdef' });
    const failure = await error(call(provider));
    expect(failure.kind).toBe('auth');
    expect(failure.message).not.toContain('wrong-key-abcdef');
  });

  it('throws auth when no key is sent', async () => {
    const provider = new VastAiProvider({ baseUrl: guarded.url, apiKey: '' });
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
