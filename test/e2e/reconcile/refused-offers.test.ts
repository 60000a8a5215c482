import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { createTestNamespace } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntilPhase, rankedOffers } from './pods.ts';

// RunPod v2 POST /v2/pods 400: "either it breaks a cross-field rule, or this GPU and data
// center combination could not be placed → Try your next candidate … if every candidate
// returns 400, read the last detail as a problem with the request" (runpod audit #5). Each
// refused offer cools down, so no pass sends a create for it again — counted at the simulator.

const RULE = 'gpu.count 1 cannot be placed with the requested disk in this data center';

describe('offers RunPod refuses (400)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('runpod');
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('tries the next offer; when all are refused, says so and never sends them again', async () => {
    const sim = ground.sim as RunPodSim;
    const annotations = { 'anex.sh/gpu-names': 'RTX 4090' };
    const offers = await rankedOffers(ground, annotations);
    const [first, ...rest] = offers;
    if (first === undefined || rest.length === 0)
      throw new Error('the simulated market has too few RTX 4090 offers');
    const dc = (offerId: string) => offerId.split('|')[2] as string;
    const gpuId = (offerId: string) => offerId.split('|')[0] as string;
    // The cheapest offer is refused: the pod runs on the next one in the same pass.
    sim.refusePlacement(gpuId(first.offerId), dc(first.offerId), RULE);
    const ns = await createTestNamespace('e2e-refused');
    const pod = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aGpuPod(ground, 'next', { annotations }),
    });
    await passUntilPhase(ground, ns, 'next', 'Running');
    const said = await eventLines(ns.core, ns.name, pod.metadata?.uid as string);
    expect(said.filter((l) => l.includes(`refused offer ${first.offerId} (${RULE})`))).toHaveLength(1);
    const record = await ground.deps.store.getPod(pod.metadata?.uid as string);
    expect(record?.attempts).toBe(1);
    await deleteAndDrain(ground, ns);

    // Every offer refused: the pod waits with the last detail, and five more passes send nothing.
    for (const offer of offers) sim.refusePlacement(gpuId(offer.offerId), dc(offer.offerId), RULE);
    const ns2 = await createTestNamespace('e2e-refused-all');
    await ns2.core.createNamespacedPod({
      namespace: ns2.name,
      body: aGpuPod(ground, 'stuck', { annotations }),
    });
    const before = sim.requestCount('create');
    for (let i = 0; i < 6; i++) await ground.pass();
    const sent = sim.requestCount('create') - before;
    // At most one create per offer the first pass reached, none after it.
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(offers.length);
    const afterSix = sim.requestCount('create');
    for (let i = 0; i < 4; i++) await ground.pass();
    expect(sim.requestCount('create')).toBe(afterSix);
    const stuck = await ns2.core.readNamespacedPod({ namespace: ns2.name, name: 'stuck' });
    expect(stuck.status?.phase).toBe('Pending');
    const stuckSaid = await eventLines(ns2.core, ns2.name, stuck.metadata?.uid as string);
    expect(stuckSaid.some((l) => l.includes('The provider refused all') && l.includes(RULE))).toBe(true);
    expect(liveInstances(ground)).toEqual([]);
    await deleteAndDrain(ground, ns2);
  });
});
