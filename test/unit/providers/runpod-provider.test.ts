import { describe, expect, it } from 'vitest';
import { formatTag, type Instance } from '../../../lib/providers/provider.ts';
import { RunPodClient } from '../../../lib/providers/runpod/client.ts';
import { RunPodProvider } from '../../../lib/providers/runpod/provider.ts';
import { REGISTRY_GRACE_MS, registryDigest } from '../../../lib/providers/runpod/registries.ts';
import { aLaunch, aRegistryAuth, aRequirements, aTag, CLUSTER, failureOf as error } from './builders.ts';
import { useRunPodSim } from './harness.ts';
import { runPodOffers } from './runpod-offers.ts';
import { sharedDestroyTests } from './shared-fault-tests.ts';

const { sim, clock, setup, url } = useRunPodSim({
  seed: 11,
  timings: { provisionMs: 5, startingMs: 10, portsMs: 10 },
});

const { stockedOffer, rentOne } = runPodOffers(sim);

describe('RunPodProvider.listOffers against the simulator', () => {
  it('asks the v2 catalog once per cloud tier and GPU count, with availability, product and count', async () => {
    const { provider, requests } = setup();
    const offers = await provider.listOffers(
      aRequirements('runpod', { gpuCount: { min: 2, max: 3 }, cuda: { min: '12.4' } }),
      {},
    );
    const gpuCalls = requests.filter((r) => r.url.pathname === '/v2/catalog/gpus');
    // Availability is per count (`count=`), so each allowed count is read, as gpuhunt does (runpod audit #4).
    expect(
      gpuCalls.map((r) => `${r.url.searchParams.get('cloud')}×${r.url.searchParams.get('count')}`),
    ).toEqual(['SECURE×2', 'SECURE×3', 'COMMUNITY×2', 'COMMUNITY×3']);
    for (const call of gpuCalls) {
      expect(Object.fromEntries(call.url.searchParams)).toMatchObject({
        include: 'AVAILABILITY',
        product: 'POD',
        minCudaVersion: '12.4',
      });
    }
    expect(offers.every((o) => o.gpuCount === 2 || o.gpuCount === 3)).toBe(true);
    expect(requests.some((r) => r.url.pathname === '/v2/catalog/datacenters')).toBe(true);
    expect(offers.length).toBeGreaterThan(0);
    expect(offers.every((o) => o.gpuTypeId && o.dataCenterId && o.cloudType && o.region)).toBe(true);
  });

  it('asks only for the cloud tiers the pod allows', async () => {
    const { provider, requests } = setup();
    const offers = await provider.listOffers(
      aRequirements('runpod', { runpod: { cloudTypes: ['COMMUNITY'], keepGpuTypePriority: false } }),
      {},
    );
    expect(requests.filter((r) => r.url.pathname === '/v2/catalog/gpus')).toHaveLength(1);
    expect(offers.every((o) => o.cloudType === 'COMMUNITY')).toBe(true);
  });
});

describe('RunPodProvider.create, get and destroy against the simulator', () => {
  it('creates one GPU type in one data center and cloud, named by the tag', async () => {
    const { provider, requests } = setup();
    const offer = await stockedOffer(provider);
    const tag = aTag();
    const launch = aLaunch({
      command: ['/agent'],
      args: ['python', 'train.py'],
      diskGb: 20.5,
      ports: ['8080/http'],
    });
    const result = await provider.create(offer, launch, tag, {});
    const post = requests.find((r) => r.method === 'POST');
    expect(post?.body).toEqual({
      name: formatTag(tag),
      image: launch.image,
      gpu: { id: offer.gpuTypeId, count: 1 },
      cloud: offer.cloudType,
      dataCenterIds: [offer.dataCenterId],
      disk: 21,
      env: { AGENT_URL: 'https://agent.example', ANEX_TAG: formatTag(tag), ANEX_POD_UID: tag.podUid },
      ports: ['8080/http'],
      entrypoint: ['/agent'],
      cmd: ['python', 'train.py'],
    });
    expect(result.outcome).toBe('created');
    if (result.outcome === 'created') {
      expect(result.instance.tag).toEqual(tag);
      await provider.destroy(result.instance.id, {});
    }
  });

  it('returns capacity when the candidate has no free GPUs (400)', async () => {
    const { provider } = setup();
    const offer = await stockedOffer(provider);
    sim.setStock(offer.gpuTypeId ?? '', offer.dataCenterId ?? '', offer.cloudType ?? 'SECURE', 0);
    const result = await provider.create(offer, aLaunch(), aTag(), {});
    expect(result).toMatchObject({
      outcome: 'capacity',
      reason: expect.stringContaining('no longer any instances'),
    });
  });

  it('skips a candidate whose GPU pool answers 403 and rents the next one', async () => {
    const { provider, requests } = setup();
    const offers = (await provider.listOffers(aRequirements('runpod'), {})).filter((o) => o.gpuCount === 1);
    const first = offers[0];
    const second = offers.find((o) => o.gpuTypeId !== first?.gpuTypeId);
    if (!first?.gpuTypeId || !second?.gpuTypeId || !second.dataCenterId || !second.cloudType)
      throw new Error('need two offers on different GPU types');
    sim.setStock(second.gpuTypeId, second.dataCenterId, second.cloudType, 64);
    sim.setPoolForbidden(first.gpuTypeId);
    // The reconciler's walk: a capacity outcome moves on to the next candidate at once.
    const results = [];
    for (const candidate of [first, second]) {
      const result = await provider.create(candidate, aLaunch(), aTag(), {});
      results.push(result);
      if (result.outcome === 'created') break;
    }
    expect(results.map((r) => r.outcome)).toEqual(['capacity', 'created']);
    expect(results[0]).toMatchObject({ reason: expect.stringContaining('HTTP 403 on this GPU pool') });
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    // Reads stay open: the forbidden pool still lists.
    expect((await provider.listOffers(aRequirements('runpod'), {})).length).toBeGreaterThan(0);
    const created = results[1];
    if (created?.outcome === 'created') await provider.destroy(created.instance.id, {});
  });

  it('walks PROVISIONING → STARTING → RUNNING without runtime → RUNNING with ports', async () => {
    const { provider } = setup();
    const { instance } = await rentOne(provider);
    const phases: string[] = [];
    for (const step of [0, 6, 11, 11]) {
      clock.advance(step);
      const seen = await provider.get(instance.id, {});
      phases.push(
        seen.state.phase === 'starting' ? `starting:${seen.state.message ?? ''}` : seen.state.phase,
      );
    }
    expect(phases).toEqual([
      'pending',
      'starting:status STARTING',
      'starting:RUNNING, waiting for the container runtime',
      'running',
    ]);
    await provider.destroy(instance.id, {});
  });

  it.each([
    ['error', { phase: 'failed', fault: 'host' }],
    ['never-start', { phase: 'starting' }],
    // RunPod gives no structured image-pull signal (providers.md §5): it stays RUNNING with
    // runtime null and only the reconciler's deadline catches it.
    ['image-pull-error', { phase: 'starting' }],
    ['exited', { phase: 'exited' }],
  ] as const)('classifies a pod that does %s', async (plan, expected) => {
    const { provider } = setup();
    const offer = await stockedOffer(provider);
    sim.setGpuPlan(offer.gpuTypeId ?? '', plan);
    const { instance } = await rentOne(provider, offer);
    clock.advance(10_000);
    expect((await provider.get(instance.id, {})).state).toMatchObject(expected);
    await provider.destroy(instance.id, {});
  });

  sharedDestroyTests({ setup, rentOne });

  it('throws balance on 402', async () => {
    const { provider } = setup();
    const offer = await stockedOffer(provider);
    sim.setBalance(0);
    expect((await error(provider.create(offer, aLaunch(), aTag(), {}))).kind).toBe('balance');
  });

  it('throws invalid-input naming the problem for a 400 that is not capacity', async () => {
    const { provider } = setup();
    const offer = await stockedOffer(provider);
    const failure = await error(
      provider.create({ ...offer, gpuTypeId: 'NVIDIA Imaginary 9000' }, aLaunch(), aTag(), {}),
    );
    expect(failure.kind).toBe('invalid-input');
    expect(failure.message).toContain('NVIDIA Imaginary 9000');
  });

  it('throws invalid-input listing the violations of a 422', async () => {
    const client = new RunPodClient({ baseUrl: url(), apiKey: 'k' });
    const failure = await error(client.createPod({ name: 'x', image: 'i', bogus: true }, {}));
    expect(failure.kind).toBe('invalid-input');
    expect(failure.message).toContain("additional properties 'bogus' not allowed");
  });
});

describe('RunPodProvider.listTagged against the simulator', () => {
  it('follows pagination cursors and keeps only this cluster', async () => {
    sim.setPodsPageSize(5);
    const { provider, requests } = setup();
    const offer = await stockedOffer(provider);
    const ours: Instance[] = [];
    for (let i = 0; i < 12; i++) ours.push((await rentOne(provider, offer)).instance);
    const other = new RunPodProvider({ baseUrl: url(), apiKey: 'k', clusterId: 'other' });
    const foreign = await other.create(offer, aLaunch(), aTag('other'), {});
    const tagged = await provider.listTagged({});
    expect(foreign.outcome).toBe('created');
    expect(tagged.map((i) => i.id).sort()).toEqual(ours.map((i) => i.id).sort());
    const pages = requests.filter((r) => r.url.pathname === '/v2/pods' && r.method === 'GET');
    expect(pages.map((r) => r.url.searchParams.has('cursor'))).toEqual([false, true, true]);
    for (const instance of ours) await provider.destroy(instance.id, {});
    if (foreign.outcome === 'created') await other.destroy(foreign.instance.id, {});
  });
});

describe('RunPodProvider registry credentials (issue #14 §3, ADR 0016)', () => {
  const PRIVATE = 'ghcr.io/example/private-trainer:1';
  const privateLaunch = (auth = aRegistryAuth()) => aLaunch({ image: PRIVATE, registryAuth: auth });
  const registryOf = (r: { body?: unknown }) => (r.body as { registry?: string } | undefined)?.registry;

  it('makes one credential per login, named for what it is, reuses it for every pod, and sends its id as `registry`', async () => {
    const { provider, requests } = setup({ now: clock.now });
    const first = await provider.create(await stockedOffer(provider), privateLaunch(), aTag(), {});
    const second = await provider.create(await stockedOffer(provider), privateLaunch(), aTag(), {});
    // Another process (a fresh adapter) finds it by name rather than making a second one.
    const other = setup({ now: clock.now });
    const third = await other.provider.create(await stockedOffer(provider), privateLaunch(), aTag(), {});
    expect([first, second, third].map((c) => c.outcome)).toEqual(['created', 'created', 'created']);
    const credentials = sim.registryCredentials();
    expect(credentials).toHaveLength(1);
    const [credential] = credentials;
    expect(credential?.name).toBe(
      `anex.${CLUSTER}.registry.${registryDigest(CLUSTER, aRegistryAuth().identity)}.${Math.floor(clock.now() / 1000)}`,
    );
    expect(credential?.name).not.toContain(aRegistryAuth().password);
    expect(credential).toMatchObject({
      username: aRegistryAuth().username,
      password: aRegistryAuth().password,
    });
    const creates = [...requests, ...other.requests].filter(
      (r) => r.method === 'POST' && r.url.pathname === '/v2/pods',
    );
    expect(creates.map(registryOf)).toEqual([credential?.id, credential?.id, credential?.id]);
    for (const made of [first, second, third])
      if (made.outcome === 'created') await provider.destroy(made.instance.id, {});
  });

  it('gives an edited Secret (a new resourceVersion) a credential of its own: a rotated token is never served stale', async () => {
    const { provider } = setup({ now: clock.now });
    const before = aRegistryAuth({ identity: 'ml/regcred@uid-1:1#ghcr.io' });
    const after = aRegistryAuth({ identity: 'ml/regcred@uid-1:2#ghcr.io', password: 'rotated' });
    for (const auth of [before, after]) {
      const made = await provider.create(await stockedOffer(provider), privateLaunch(auth), aTag(), {});
      if (made.outcome === 'created') await provider.destroy(made.instance.id, {});
    }
    expect(sim.registryCredentials().map((c) => c.password)).toEqual([before.password, 'rotated']);
  });

  it('sends no `registry` for a public image', async () => {
    const { provider, requests } = setup();
    const made = await provider.create(await stockedOffer(provider), aLaunch(), aTag(), {});
    const create = requests.find((r) => r.method === 'POST' && r.url.pathname === '/v2/pods');
    expect(create?.body).not.toHaveProperty('registry');
    expect(requests.some((r) => r.url.pathname === '/v2/registries')).toBe(false);
    if (made.outcome === 'created') await provider.destroy(made.instance.id, {});
  });

  it('sweeps only its own cluster’s credentials that no pod names, after the grace', async () => {
    const { provider } = setup({ now: clock.now });
    const made = await provider.create(await stockedOffer(provider), privateLaunch(), aTag(), {});
    const otherCluster = setup({ now: clock.now, clusterId: 'other-cluster' }).provider;
    const theirs = await otherCluster.create(
      await stockedOffer(provider),
      privateLaunch(),
      aTag('other-cluster'),
      {},
    );
    const client = new RunPodClient({ baseUrl: url(), apiKey: 'k' });
    await client.createRegistry({ name: 'my-dockerhub', username: 'u', password: 'p' }, {});
    await client.createRegistry(
      { name: 'anex-test-cluster-not-ours-either', username: 'u', password: 'p' },
      {},
    );
    clock.advance(11 * 60_000);
    // Named by a live pod: kept.
    expect(await provider.sweepCredentials({})).toBe(0);
    if (made.outcome === 'created') await provider.destroy(made.instance.id, {});
    if (theirs.outcome === 'created') await otherCluster.destroy(theirs.instance.id, {});
    expect(await provider.sweepCredentials({})).toBe(1);
    expect(sim.registryCredentials().map((c) => c.name.split('.').slice(0, 3).join('.'))).toEqual([
      'anex.other-cluster.registry',
      'my-dockerhub',
      'anex-test-cluster-not-ours-either',
    ]);
  });

  it('spares a credential younger than the grace: a concurrent pass may be about to name it', async () => {
    const { provider } = setup({ now: clock.now });
    const made = await provider.create(await stockedOffer(provider), privateLaunch(), aTag(), {});
    if (made.outcome === 'created') await provider.destroy(made.instance.id, {});
    clock.advance(REGISTRY_GRACE_MS - 60_000);
    expect(await provider.sweepCredentials({})).toBe(0);
    clock.advance(2 * 60_000);
    expect(await provider.sweepCredentials({})).toBe(1);
  });

  it('makes the credential again and resends the create once when it was swept meanwhile (404)', async () => {
    const { provider, requests } = setup({ now: clock.now });
    const first = await provider.create(await stockedOffer(provider), privateLaunch(), aTag(), {});
    if (first.outcome === 'created') await provider.destroy(first.instance.id, {});
    // Another process sweeps it; this one still knows the old id.
    clock.advance(11 * 60_000);
    expect(await setup({ now: clock.now }).provider.sweepCredentials({})).toBe(1);
    const again = await provider.create(await stockedOffer(provider), privateLaunch(), aTag(), {});
    expect(again.outcome).toBe('created');
    const [credential] = sim.registryCredentials();
    const creates = requests.filter((r) => r.method === 'POST' && r.url.pathname === '/v2/pods');
    expect(creates.map(registryOf).slice(1)).toEqual([expect.any(String), credential?.id]);
    if (again.outcome === 'created') await provider.destroy(again.instance.id, {});
  });

  it('never puts the login in an error', async () => {
    const { provider } = setup();
    const bad = aRegistryAuth({ username: '' });
    const failure = await provider
      .create(await stockedOffer(provider), privateLaunch(bad), aTag(), {})
      .catch((e: unknown) => e);
    expect(String((failure as Error).message)).toContain('POST /v2/registries answered HTTP 422');
    expect(String((failure as Error).message)).not.toContain(bad.password);
  });
});
