import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Offer } from '../../../lib/offers/offer.ts';
import type { Provider } from '../../../lib/providers/provider.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { createTestNamespace } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import {
  aGpuPod,
  deleteAndDrain,
  eventLines,
  passUntilPhase,
  passUntilWaiting,
  rankedOffers,
} from './pods.ts';

// DESIGN §3 "Bans" and §4 "Failure" on the real parts: a machine that never starts is
// destroyed, banned in DynamoDB for everyone, and the next offer is used; the ban ends when it
// expires. A market race or a bad image is not the machine's fault: no ban.

const GPU = { 'anex.sh/gpu-names': 'RTX 4090' };
const BAN_MS = 10 * 60_000;

function vast(ground: ReconcileGround): VastAiSim {
  if (!(ground.sim instanceof VastAiSim)) throw new Error('this file runs on the Vast simulator');
  return ground.sim;
}

describe('a machine that never starts (vastai)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', {
      offers: 200,
      config: { startTimeoutMs: { vastai: 3_000, runpod: 3_000 }, banTimeoutMs: BAN_MS },
    });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('is destroyed and banned, the next offer runs the pod; once the ban expires it is rented again', async () => {
    // The machine chosen has a second ask, so the price window below can single out one of its
    // offers (a destroyed rental's ask is back on the market, as on Vast).
    const { bad, firstTry } = machineWithTwoAsks(await rankedOffers(ground, GPU));
    vast(ground).setMachinePlan(Number(bad), 'never-start');
    const ns = await createTestNamespace('e2e-ban');
    const first = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aGpuPod(ground, 'first', { annotations: firstTry }),
    });
    await passUntilPhase(ground, ns, 'first', 'Running');

    const store = ground.deps.store;
    const record = await store.getPod(first.metadata?.uid as string);
    expect(record).toMatchObject({ stage: 'running', attempts: 2 });
    expect(record?.instance?.machineId).not.toBe(bad);
    const bans = await store.listBans('vastai', ground.clock());
    expect(bans.map((b) => b.machineId)).toEqual([bad]);
    expect(bans[0]?.reason).toContain('did not start within 3 s');
    const said = await eventLines(ns.core, ns.name, first.metadata?.uid as string);
    expect(said.filter((l) => l.startsWith(`MachineBanned: Machine ${bad} is skipped`))).toHaveLength(1);
    expect(liveInstances(ground)).toHaveLength(1);

    // A pod only the banned machine can serve waits while the ban is in force…
    const only = onlyMachine(await rankedOffers(ground, GPU), bad);
    const second = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aGpuPod(ground, 'second', { annotations: only }),
    });
    const waiting = await passUntilWaiting(ground, ns, 'second', 'NoMatchingOffers');
    // The funnel shows the ban keeping out exactly the banned machine's offers (bans come
    // before the price window in the funnel, so all of its asks are counted there).
    const bannedOffers = (await rankedOffers(ground, GPU)).filter((o) => o.machineId === bad).length;
    // (Later filters — price, verified-only — leave nothing: which one comes to 0 depends on the market.)
    const funnel = /^(\d+) offers → bans (\d+) → .* 0; nearest miss/.exec(
      waiting.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '',
    );
    expect(bannedOffers).toBeGreaterThan(0);
    expect(Number(funnel?.[1]) - Number(funnel?.[2])).toBe(bannedOffers);
    // …and gets it once the ban has expired (the machine was repaired meanwhile).
    vast(ground).setMachinePlan(Number(bad), 'normal');
    ground.skew(BAN_MS + 1_000);
    await passUntilPhase(ground, ns, 'second', 'Running');
    expect((await store.getPod(second.metadata?.uid as string))?.instance?.machineId).toBe(bad);
    expect(await store.listBans('vastai', ground.clock())).toEqual([]);

    await deleteAndDrain(ground, ns);
  });
});

describe('not the machine’s fault: no ban (vastai)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    // No image check before renting: the image fault is the provider's report here.
    ground = await startGround('vastai', { offers: 200, images: 'none' });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('an offer taken between search and rent: the next offer is rented, no attempt counted, no ban', async () => {
    const sim = vast(ground);
    const taken: string[] = [];
    // Another renter takes the ask after our search, just before our rent request lands.
    ground.deps.providers = {
      vastai: racing(ground.adapter, (offer) => {
        if (taken.length === 0) {
          taken.push(offer.offerId);
          sim.takeAsk(Number(offer.offerId));
        }
      }),
    };
    const ns = await createTestNamespace('e2e-race');
    const pod = await ns.core.createNamespacedPod({ namespace: ns.name, body: aGpuPod(ground, 'racer') });
    await passUntilPhase(ground, ns, 'racer', 'Running');

    const uid = pod.metadata?.uid as string;
    const record = await ground.deps.store.getPod(uid);
    expect(taken).toHaveLength(1);
    expect(record?.attempts).toBe(1);
    expect(record?.intent?.offerId).not.toBe(taken[0]);
    const said = await eventLines(ns.core, ns.name, uid);
    const gone = said.filter((l) =>
      l.startsWith(`Provisioning: Offer ${taken[0]} was taken before we could rent it`),
    );
    expect(gone).toHaveLength(1);
    expect(gone[0]).toContain('no longer available');
    expect(said.filter((l) => l.startsWith('MachineBanned'))).toEqual([]);
    expect(await ground.deps.store.listBans('vastai', ground.clock())).toEqual([]);

    await deleteAndDrain(ground, ns);
  });

  it('an image that cannot be pulled: Failed with ImagePullError, nothing banned, nothing left rented', async () => {
    const image = 'ghcr.io/example/missing:404';
    vast(ground).setImagePlan(image, 'image-pull-error');
    const ns = await createTestNamespace('e2e-pull');
    const pod = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aGpuPod(ground, 'bad-image', { image }),
    });
    const failed = await passUntilPhase(ground, ns, 'bad-image', 'Failed');

    expect(failed.status?.reason).toBe('ImagePullError');
    const said = await eventLines(ns.core, ns.name, pod.metadata?.uid as string);
    expect(said.filter((l) => l.startsWith('MachineBanned'))).toEqual([]);
    expect(await ground.deps.store.listBans('vastai', ground.clock())).toEqual([]);
    expect(liveInstances(ground)).toEqual([]);

    await deleteAndDrain(ground, ns);
  });
});

/**
 * The cheapest machine with two asks, and annotations (a price floor just under its cheaper
 * ask) that make it the first candidate, with other machines' offers after it.
 */
function machineWithTwoAsks(ranked: readonly Offer[]): { bad: string; firstTry: Record<string, string> } {
  const index = ranked.findIndex(
    (o) => ranked.filter((other) => other.machineId === o.machineId).length >= 2,
  );
  const offer = ranked[index];
  if (offer?.machineId === undefined) throw new Error('no machine with two asks in the simulated market');
  const before = ranked[index - 1]?.pricePerHour ?? 0;
  if (before === offer.pricePerHour)
    throw new Error(`offer ${offer.offerId} ties on price: pick another seed`);
  const floor = ((before + offer.pricePerHour) / 2).toFixed(6);
  return { bad: offer.machineId, firstTry: { ...GPU, 'anex.sh/price-min': floor } };
}

/**
 * Annotations no machine but `machineId` satisfies: the GPU model and a price window around
 * that machine's cheapest offer that no other offer falls into.
 */
function onlyMachine(ranked: readonly Offer[], machineId: string): Record<string, string> {
  const price = Math.min(...ranked.filter((o) => o.machineId === machineId).map((o) => o.pricePerHour));
  const others = ranked.filter((o) => o.pricePerHour !== price || o.machineId !== machineId);
  const low = price;
  const high = price;
  const prices = others.map((o) => o.pricePerHour);
  const below = Math.max(0, ...prices.filter((p) => p < low));
  const above = Math.min(low + 1, ...prices.filter((p) => p > high));
  if (prices.some((p) => p === price)) {
    throw new Error(`another machine's offer is priced like machine ${machineId}'s: pick another seed`);
  }
  return {
    ...GPU,
    'anex.sh/price-min': ((below + low) / 2).toFixed(6),
    'anex.sh/price-max': ((high + above) / 2).toFixed(6),
  };
}

/** The adapter, with `beforeCreate` run just before each rent request is sent. */
function racing(inner: Provider, beforeCreate: (offer: Offer) => void): Provider {
  return {
    name: inner.name,
    listOffers: (requirements, options) => inner.listOffers(requirements, options),
    create: async (offer, launch, tag, options) => {
      beforeCreate(offer);
      return inner.create(offer, launch, tag, options);
    },
    get: (id, options) => inner.get(id, options),
    listTagged: (options) => inner.listTagged(options),
    destroy: (id, options) => inner.destroy(id, options),
  };
}
