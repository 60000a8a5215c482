import { describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import { PROVISIONED } from '../../../lib/reconcile/status.ts';
import { anOffer, aRunPodOffer, gpuPod, harness, MINUTE } from './harness.ts';

describe('runPass: failures while renting', () => {
  it('bans a machine whose host faults and rents the next candidate in the same pass', async () => {
    const h = harness();
    h.vast.offers = [
      anOffer({ machineId: 'bad', pricePerHour: 0.3 }),
      anOffer({ machineId: 'good', pricePerHour: 0.5 }),
    ];
    h.vast.machines.set('bad', { fault: 'host', reason: 'OCI runtime create failed' });
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    h.tick(MINUTE);
    h.vast.advance();
    const summary = await h.pass();

    expect(summary.errors).toEqual([]);
    expect(h.vast.creates.map((c) => c.offer.machineId)).toEqual(['bad', 'good']);
    expect(h.vast.destroyed).toEqual(['i-1']);
    expect((await h.store.listBans('vastai', h.now)).map((b) => b.machineId)).toEqual(['bad']);
    const events = h.cluster.events(pod);
    expect(events.find((e) => e.reason === 'MachineBanned')?.message).toContain(
      'Machine bad is skipped for all pods',
    );
    expect(events.find((e) => e.reason === 'ProvisionFailed')?.message).toContain(
      'OCI runtime create failed',
    );
    const record = await h.store.getPod(pod.uid);
    expect(record).toMatchObject({
      stage: 'starting',
      attempts: 2,
      instance: { id: 'i-2', machineId: 'good' },
    });
  });

  it('on RunPod, a failed start cools that offer down (no machine ban) and rents the next', async () => {
    const h = harness();
    h.runpod.offers = [
      aRunPodOffer({ offerId: 'RTX 4090|SECURE|EU-RO-1|1', pricePerHour: 0.69 }),
      aRunPodOffer({ offerId: 'RTX 4090|SECURE|EU-SE-1|1', pricePerHour: 0.74 }),
    ];
    const pod = h.cluster.addPod(gpuPod(1, { provider: 'runpod' }));
    await h.pass();
    h.runpod.setState('i-1', { phase: 'failed', fault: 'host', reason: 'CUDA error 804' });
    h.tick(MINUTE);
    await h.pass();

    expect(h.runpod.creates.map((c) => c.offer.offerId)).toEqual([
      'RTX 4090|SECURE|EU-RO-1|1',
      'RTX 4090|SECURE|EU-SE-1|1',
    ]);
    expect(h.runpod.destroyed).toEqual(['i-1']);
    expect((await h.store.listBans('runpod', h.now)).map((b) => b.machineId)).toEqual([
      'offer:RTX 4090|RTX 4090|SECURE|EU-RO-1|1',
    ]);
    expect(h.cluster.events(pod).find((e) => e.reason === 'MachineBanned')?.message).toContain(
      'Offer RTX 4090|SECURE|EU-RO-1|1 is skipped for all pods',
    );
    // Another pod asking for the same does not get the cooling offer either.
    const other = h.cluster.addPod(gpuPod(2, { provider: 'runpod' }));
    h.runpod.offers.push(aRunPodOffer({ offerId: 'RTX 4090|SECURE|EU-NL-1|1', pricePerHour: 0.8 }));
    await h.pass();
    expect(h.runpod.creates.find((c) => c.tag.podUid === other.uid)?.offer.offerId).not.toBe(
      'RTX 4090|SECURE|EU-RO-1|1',
    );
  });

  it('on RunPod, a GPU type failing in a second data center cools down as a whole', async () => {
    const h = harness();
    h.runpod.offers = [
      aRunPodOffer({ offerId: 'RTX 4090|SECURE|EU-RO-1|1', pricePerHour: 0.69 }),
      aRunPodOffer({ offerId: 'RTX 4090|SECURE|EU-SE-1|1', pricePerHour: 0.7 }),
      aRunPodOffer({ offerId: 'RTX 4090|SECURE|EU-NL-1|1', pricePerHour: 0.71 }),
      aRunPodOffer({ offerId: 'RTX 3090|SECURE|EU-RO-1|1', gpuName: 'RTX 3090', pricePerHour: 0.9 }),
    ];
    const pod = h.cluster.addPod(
      gpuPod(1, { provider: 'runpod', annotations: { 'anex.sh/gpu-names': 'RTX 4090,RTX 3090' } }),
    );
    await h.pass();
    for (const id of ['i-1', 'i-2']) {
      h.runpod.setState(id, { phase: 'failed', fault: 'host', reason: 'CUDA error 804' });
      h.tick(MINUTE);
      await h.pass();
    }
    expect(h.runpod.creates.map((c) => c.offer.offerId)).toEqual([
      'RTX 4090|SECURE|EU-RO-1|1',
      'RTX 4090|SECURE|EU-SE-1|1',
      'RTX 3090|SECURE|EU-RO-1|1',
    ]);
    expect((await h.store.listBans('runpod', h.now)).map((b) => b.machineId).sort()).toEqual([
      'gpu:RTX 4090',
      'offer:RTX 4090|RTX 4090|SECURE|EU-RO-1|1',
    ]);
    expect(
      h.cluster.events(pod).some((e) => e.message.startsWith('GPU type RTX 4090 is skipped for all pods')),
    ).toBe(true);
  });

  it('waits for a slow start, then destroys, bans and moves on after the start timeout', async () => {
    const h = harness();
    h.vast.offers = [
      anOffer({ machineId: 'slow', pricePerHour: 0.3 }),
      anOffer({ machineId: 'fast', pricePerHour: 0.5 }),
    ];
    h.vast.machines.set('slow', 'never-starts');
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    h.tick(h.config.startTimeoutMs.vastai);
    h.vast.advance();
    await h.pass();
    expect(h.vast.destroyed).toEqual([]);
    expect(h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state).toMatchObject({
      waiting: { reason: 'ContainerCreating' },
    });

    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.destroyed).toEqual(['i-1']);
    expect((await h.store.listBans('vastai', h.now)).map((b) => b.machineId)).toEqual(['slow']);
    expect(h.cluster.events(pod).find((e) => e.reason === 'ProvisionFailed')?.message).toContain(
      'did not start within 10 min',
    );
    expect(h.vast.live().map((i) => i.machineId)).toEqual(['fast']);
  });

  it('fails the pod on an image fault without banning or trying other machines', async () => {
    const h = harness();
    h.vast.offers = [anOffer({ machineId: 'a' }), anOffer({ machineId: 'b' })];
    h.vast.machines.set('a', { fault: 'image', reason: 'pull access denied for ghcr.io/example/trainer' });
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    h.tick(MINUTE);
    h.vast.advance();
    await h.pass();
    h.tick(MINUTE);
    await h.pass();

    expect(h.vast.creates).toHaveLength(1);
    expect(h.vast.live()).toEqual([]);
    expect(await h.store.listBans('vastai', h.now)).toEqual([]);
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status).toMatchObject({ phase: 'Failed', reason: 'ImagePullError' });
    expect(status?.message).toContain('ghcr.io/example/trainer:1 could not be pulled');
  });

  it.each(['offer-gone', 'capacity'] as const)(
    'on %s tries the next candidate at once, without ban or attempt',
    async (knob) => {
      const h = harness();
      h.vast.offers = [
        anOffer({ machineId: 'taken', pricePerHour: 0.3 }),
        anOffer({ machineId: 'free', pricePerHour: 0.5 }),
      ];
      h.vast.onCreate(knob);
      const pod = h.cluster.addPod(gpuPod(1));
      await h.pass();

      expect(h.vast.calls.create).toBe(2);
      expect(h.vast.live().map((i) => i.machineId)).toEqual(['free']);
      expect(await h.store.listBans('vastai', h.now)).toEqual([]);
      expect((await h.store.getPod(pod.uid))?.attempts).toBe(1);
      expect(h.cluster.events(pod).some((e) => e.message.includes('was taken before we could rent it'))).toBe(
        true,
      );
    },
  );

  it('gives up after maxAttempts failed starts with the last reason, leaving nothing rented', async () => {
    const h = harness({ maxAttempts: 2 });
    h.vast.offers = [anOffer({ machineId: 'x' }), anOffer({ machineId: 'y' }), anOffer({ machineId: 'z' })];
    for (const m of ['x', 'y', 'z'])
      h.vast.machines.set(m, { fault: 'host', reason: 'nvidia-container-cli: initialization error' });
    const pod = h.cluster.addPod(gpuPod(1));
    for (let i = 0; i < 4; i++) {
      await h.pass();
      h.tick(MINUTE);
      h.vast.advance();
    }
    expect(h.vast.creates).toHaveLength(2);
    expect(h.vast.live()).toEqual([]);
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status).toMatchObject({ phase: 'Failed', reason: 'ProvisioningFailed' });
    expect(status?.message).toContain('Gave up after 2 provisioning attempts');
    expect(status?.message).toContain('nvidia-container-cli');
  });

  it('stops renting on a provider that refuses the credentials, with a clear event', async () => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer()];
    h.vast.onCreate(new AnexError('Vast rejected the API key (401)', { kind: 'auth' }));
    const a = h.cluster.addPod(gpuPod(1));
    h.cluster.addPod(gpuPod(2));
    const summary = await h.pass({ concurrency: 1 });

    expect(h.vast.calls.create).toBe(1);
    expect(summary.skipped['provider-blocked']).toBe(1);
    expect(summary.errors.map((e) => e.kind)).toEqual(['auth']);
    expect(h.cluster.events(a).find((e) => e.reason === 'ProvisionFailed')?.message).toContain('API key');
    expect((await h.store.getPod(a.uid))?.stage).toBe('pending');
  });
});

describe('runPass: what the user sees before renting', () => {
  it('reports invalid annotations each naming the annotation, then proceeds once fixed', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    const input = gpuPod(1, {
      annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/vram-min': '20GB', 'anex.sh/prize-max': '1' },
    });
    const pod = h.cluster.addPod(input);
    await h.pass();
    await h.pass();

    const status = h.cluster.pod('default', pod.name)?.status;
    const waiting = status?.containerStatuses[0]?.state;
    expect(waiting).toMatchObject({ waiting: { reason: 'InvalidAnnotations' } });
    const message = status?.conditions.find((c) => c.type === PROVISIONED)?.message ?? '';
    expect(message).toContain('anex.sh/vram-min');
    expect(message).toContain('anex.sh/prize-max');
    const events = h.cluster.events(pod).filter((e) => e.reason === 'InvalidAnnotations');
    expect(events).toHaveLength(1);
    expect(events[0]?.count).toBe(1);
    expect(h.vast.calls.create).toBe(0);

    const current = h.cluster.pod('default', pod.name);
    h.cluster.removePod(pod);
    h.cluster.addPod({
      ...input,
      annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/vram-min': '20480' },
      ...(current?.status ? { status: current.status } : {}),
    });
    await h.pass();
    expect(h.vast.calls.create).toBe(1);
  });

  it('reports NoMatchingOffers with the filter funnel and the nearest miss', async () => {
    const h = harness();
    h.vast.offers = [
      anOffer({ gpuName: 'RTX 3090', pricePerHour: 0.2 }),
      anOffer({ gpuName: 'RTX 4090', pricePerHour: 3 }),
    ];
    const pod = h.cluster.addPod(
      gpuPod(1, { annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/price-max': '1.5' } }),
    );
    await h.pass();

    const event = h.cluster.events(pod).find((e) => e.reason === 'NoMatchingOffers');
    expect(event?.message).toMatch(/2 offers → .*gpu-names 1.*price 0/);
    expect(event?.message).toContain('nearest miss');
    expect(h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state).toMatchObject({
      waiting: { reason: 'NoMatchingOffers' },
    });
    expect(h.vast.calls.create).toBe(0);
  });

  it('lists offers once per distinct requirement set, not once per pod', async () => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer(), anOffer(), anOffer()];
    for (let n = 1; n <= 3; n++) h.cluster.addPod(gpuPod(n));
    h.cluster.addPod(
      gpuPod(4, { annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/price-max': '2' } }),
    );
    const summary = await h.pass();
    expect(summary.offerListings).toBe(2);
    expect(h.vast.calls.listOffers).toBe(2);
    expect(h.vast.calls.listTagged).toBe(1);
    expect(h.cluster.calls.listPods).toBe(2);
    expect(h.vast.live()).toHaveLength(4);
  });
});
