import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { createTestNamespace, eventually } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod } from './pods.ts';

// Vast's limits on (the simulator enforces its minimum intervals, the create penalty and
// search per minute; ANEX_SIM_PACE_SCALE runs them faster): 20 pods pending at once are all
// rented, each with exactly one create, without a single 429 — the adapter paces every
// request through the table's slots (ADR 0011) — and nothing is left rented at the end.

const PODS = 20;

describe('20 pods at once on Vast with its rate limits on', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', { offers: 300 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('all Running, one create each, no 429 and no penalty, no leak', async () => {
    const sim = ground.sim as VastAiSim;
    const ns = await createTestNamespace('e2e-pace');
    const names = Array.from({ length: PODS }, (_, i) => `paced-${i}`);
    const annotations = {
      'anex.sh/gpu-names': 'RTX 4090,RTX 3090,RTX A6000',
      'vastai.anex.sh/verified-only': 'false',
    };
    for (const name of names)
      await ns.core.createNamespacedPod({ namespace: ns.name, body: aGpuPod(ground, name, { annotations }) });

    await eventually(
      async () => {
        // Two passes at once, as the tick and pod-events Lambdas may run.
        await Promise.all([ground.pass(), ground.pass()]);
        const pods = (await ns.core.listNamespacedPod({ namespace: ns.name })).items;
        return pods.length === PODS && pods.every((p) => p.status?.phase === 'Running') ? true : undefined;
      },
      {
        what: `${PODS} pods Running`,
        timeoutMs: 150_000,
        intervalMs: 200,
        describe: async () =>
          JSON.stringify(
            (await ns.core.listNamespacedPod({ namespace: ns.name })).items.map((p) => [
              p.metadata?.name,
              p.status?.phase,
              p.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message,
            ]),
          ),
      },
    );
    // One accepted create per pod and no create ever refused (each refusal would shut create
    // for the 12 s penalty). Other 429s are counted and reported: the pacer keeps them rare.
    expect(sim.requestCount('create') - sim.limitedCount('create')).toBe(PODS);
    expect(sim.ratePenalties()).toBe(0);
    process.stdout.write(`20 paced pods: ${sim.limitedCount()} × 429 on any endpoint\n`);

    for (const name of names) await ns.core.deleteNamespacedPod({ namespace: ns.name, name });
    await eventually(
      async () => {
        await Promise.all([ground.pass(), ground.pass()]);
        const left = (await ns.core.listNamespacedPod({ namespace: ns.name })).items.length;
        return left === 0 && liveInstances(ground).length === 0 ? true : undefined;
      },
      { what: 'pods gone and instances destroyed', timeoutMs: 120_000, intervalMs: 200 },
    );
    expect(sim.requestCount('destroy')).toBeGreaterThanOrEqual(PODS);
    expect(sim.ratePenalties()).toBe(0);
  });
});
