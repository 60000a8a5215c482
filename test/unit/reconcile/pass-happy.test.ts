import { describe, expect, it } from 'vitest';
import { PROVISIONED } from '../../../lib/reconcile/status.ts';
import { anOffer, aRunPodOffer, gpuPod, harness, MINUTE } from './harness.ts';

describe('runPass: happy path', () => {
  it.each([
    { provider: 'vastai' as const, offer: () => anOffer({ offerId: '501', pricePerHour: 0.35 }) },
    { provider: 'runpod' as const, offer: () => aRunPodOffer({ pricePerHour: 0.69 }) },
  ])('rents the cheapest match on $provider and reports Pending → Running', async ({ provider, offer }) => {
    const h = harness();
    const fake = provider === 'vastai' ? h.vast : h.runpod;
    const chosen = offer();
    fake.offers = [chosen, { ...chosen, offerId: `${chosen.offerId}-x`, pricePerHour: 2 }];
    const pod = h.cluster.addPod(gpuPod(1, { provider }));

    const first = await h.pass();
    expect(first.errors).toEqual([]);
    expect(fake.creates).toHaveLength(1);
    expect(fake.creates[0]?.offer.offerId).toBe(chosen.offerId);
    expect(fake.creates[0]?.launch).toMatchObject({
      image: 'ghcr.io/example/trainer:1',
      command: ['python', 'train.py'],
      env: { ANEX_POD_UID: pod.uid, ANEX_TAG: `anex.test.${pod.uid}` },
      diskGb: 20,
    });
    const pending = h.cluster.pod('default', pod.name);
    expect(pending?.status?.phase).toBe('Pending');
    expect(pending?.status?.containerStatuses[0]?.state).toMatchObject({
      waiting: { reason: 'ContainerCreating' },
    });
    expect(pending?.status?.conditions.find((c) => c.type === PROVISIONED)?.status).toBe('True');

    h.tick(MINUTE);
    fake.advance();
    const second = await h.pass();
    expect(second.errors).toEqual([]);
    const running = h.cluster.pod('default', pod.name);
    expect(running?.status).toMatchObject({ phase: 'Running', hostIP: fake.live()[0]?.publicIp });
    expect(running?.status?.containerStatuses[0]).toMatchObject({ ready: true, state: { running: {} } });
    expect(running?.status?.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    const reasons = h.cluster.events(pod).map((e) => e.reason);
    expect(reasons).toEqual(['OfferSelected', 'Provisioning', 'Started']);
    expect((await h.store.getPod(pod.uid))?.stage).toBe('running');

    // Steady state: nothing written, nothing rented.
    h.tick(MINUTE);
    const third = await h.pass();
    expect(third.statusWrites).toBe(0);
    expect(third.events).toBe(0);
    expect(fake.creates).toHaveLength(1);
    expect(fake.live()).toHaveLength(1);
  });
});
