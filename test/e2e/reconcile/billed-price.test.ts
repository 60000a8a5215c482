import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { createTestNamespace, eventually } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntilPhase, rankedOffers } from './pods.ts';

// issue #12 "the price actually billed": after renting, the rate the provider bills (Vast's
// instance `dph_total`) is read; it is shown on the pod (`anex.sh/billed-price`) and, when it
// is above `anex.sh/price-max`, the instance is destroyed, the machine banned and the next
// offer rented, with an event saying so. The simulator bills above the ask on one machine, as
// a host that repriced between the search and the rent would.

describe('the price actually billed (vastai)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', { offers: 200 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('destroys a rental billed above price-max and rents the next offer; the pod shows the billed rate', async () => {
    const sim = ground.sim as VastAiSim;
    const gpu = { 'anex.sh/gpu-names': 'RTX 4090', 'vastai.anex.sh/verified-only': 'false' };
    const ranked = await rankedOffers(ground, gpu);
    const [cheapest, next] = ranked;
    if (cheapest?.machineId === undefined || next === undefined)
      throw new Error('the market has too few offers');
    const max = Math.ceil((next.pricePerHour + 0.01) * 100) / 100;
    sim.billAbove(Number(cheapest.machineId), 5);

    const ns = await createTestNamespace('e2e-billed');
    const created = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aGpuPod(ground, 'priced', { annotations: { ...gpu, 'anex.sh/price-max': max.toFixed(2) } }),
    });
    const uid = created.metadata?.uid as string;
    const pod = await passUntilPhase(ground, ns, 'priced', 'Running');

    const record = await ground.deps.store.getPod(uid);
    expect(record?.attempts).toBe(2);
    expect(record?.instance?.machineId).not.toBe(cheapest.machineId);
    const billed = record?.instance?.pricePerHour;
    expect(billed).toBeLessThanOrEqual(max);
    // The annotation is written a pass after the record; read it again after one more pass.
    await ground.pass();
    const shown = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'priced' });
    expect(shown.metadata?.annotations?.['anex.sh/billed-price']).toBe(billed?.toFixed(4));
    expect(pod.status?.phase).toBe('Running');

    // Events are listed from the API server, which may show a just-created one a moment later.
    const above = await eventually(
      async () => {
        const lines = (await eventLines(ns.core, ns.name, uid)).filter((l) =>
          l.startsWith('PriceAboveMax: '),
        );
        return lines.length > 0 ? lines : undefined;
      },
      {
        what: 'the PriceAboveMax event',
        timeoutMs: 10_000,
        describe: async () => (await eventLines(ns.core, ns.name, uid)).join(' | '),
      },
    );
    expect(above).toHaveLength(1);
    expect(above[0]).toMatch(/bills \$\d+\.\d{4}\/h, above anex\.sh\/price-max \$\d+\.\d{4}\/h/);
    const bans = await ground.deps.store.listBans('vastai', ground.clock());
    expect(bans.map((b) => b.machineId)).toEqual([cheapest.machineId]);
    expect(liveInstances(ground)).toHaveLength(1);

    await deleteAndDrain(ground, ns);
    expect(liveInstances(ground)).toEqual([]);
  });
});
