import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpendLimits } from '../../../lib/reconcile/spend-limits.ts';
import { createTestNamespace, eventually, type TestNamespace } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import {
  aGpuPod,
  deleteAndDrain,
  eventLines,
  passUntilPhase,
  passUntilWaiting,
  rankedOffers,
} from './pods.ts';

// issue #16 §4 (ADR 0019) on the real control plane: a $/h cap lets one pod run and holds the
// next with an event naming the cap and the figures; raising the cap lets it run. A namespace
// the operator did not enable rents nothing. The market's prices are the simulator's, so the
// cap is set from them: one machine fits, two do not (the unit tests use 1.00 and 0.60 exactly).

const GPU = { 'anex.sh/gpu-names': 'RTX 4090', 'vastai.anex.sh/verified-only': 'false' };

describe('spend limits and namespace opt-in (vastai)', () => {
  let ground: ReconcileGround;
  let enabled: TestNamespace;
  let other: TestNamespace;
  // the ground's limits object: the test raises the cap in it, as an operator edits the setting
  const limits: SpendLimits = { rentNamespaces: [] };

  beforeAll(async () => {
    enabled = await createTestNamespace('e2e-spend');
    other = await createTestNamespace('e2e-spend-off');
    limits.rentNamespaces = [enabled.name];
    ground = await startGround('vastai', { offers: 200, config: { spend: limits } });
  });
  afterAll(async () => {
    await ground?.stop();
    await enabled?.remove();
    await other?.remove();
  });

  it('cap: the older pod runs, the younger waits with the cap and the figures; a raised cap lets it run', async () => {
    const ranked = await rankedOffers(ground, GPU);
    const cheapest = ranked[0]?.pricePerHour;
    if (cheapest === undefined) throw new Error('the market has no RTX 4090');
    // Offers up to 1.5× the cheapest: any one of them fits the cap, no two do.
    const priceMax = Math.ceil(cheapest * 150) / 100;
    if (ranked.filter((o) => o.pricePerHour <= priceMax).length < 3)
      throw new Error('the market has too few offers in the band');
    limits.maxSpendPerHour = priceMax;
    const annotations = { ...GPU, 'anex.sh/price-max': priceMax.toFixed(2) };

    await enabled.core.createNamespacedPod({
      namespace: enabled.name,
      body: aGpuPod(ground, 'first', { annotations }),
    });
    // one second apart: creationTimestamp has second precision, and the older pod wins
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await enabled.core.createNamespacedPod({
      namespace: enabled.name,
      body: aGpuPod(ground, 'second', { annotations }),
    });
    const uid = second.metadata?.uid as string;

    await passUntilPhase(ground, enabled, 'first', 'Running');
    const held = await passUntilWaiting(ground, enabled, 'second', 'SpendLimit');
    const waiting = held.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '';
    expect(waiting).toMatch(
      new RegExp(
        `^SpendLimit: total \\$/h \\d+\\.\\d\\d \\+ \\d+\\.\\d\\d > cap ${priceMax.toFixed(2)} \\(ANEX_MAX_SPEND_PER_HOUR\\)`,
      ),
    );
    expect(liveInstances(ground)).toHaveLength(1);
    // a few more passes: still one machine, and the event said once
    for (let i = 0; i < 3; i++) await ground.pass();
    expect(liveInstances(ground)).toHaveLength(1);
    // The figures of the pass that first held it may differ (a rent's reserve before its billed
    // rate is known): each change is said once; the current message is among the events.
    const said = await eventually(
      async () => {
        const lines = await eventLines(enabled.core, enabled.name, uid);
        return lines.includes(`SpendLimit: ${waiting}`) ? lines : undefined;
      },
      { what: 'the SpendLimit event', timeoutMs: 10_000 },
    );
    for (const line of said.filter((l) => l.startsWith('SpendLimit: ')))
      expect(line).toContain(`> cap ${priceMax.toFixed(2)} (ANEX_MAX_SPEND_PER_HOUR)`);

    limits.maxSpendPerHour = 2 * priceMax;
    await passUntilPhase(ground, enabled, 'second', 'Running');
    expect(liveInstances(ground)).toHaveLength(2);

    await deleteAndDrain(ground, enabled);
  });

  it('a namespace the operator did not enable rents nothing', async () => {
    delete limits.maxSpendPerHour;
    const created = await other.core.createNamespacedPod({
      namespace: other.name,
      body: aGpuPod(ground, 'unlisted', { annotations: GPU }),
    });
    const pod = await passUntilWaiting(ground, other, 'unlisted', 'NamespaceNotEnabled');
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe(
      `Namespace ${other.name} may not rent machines: the operator has not enabled it (ANEX_RENT_NAMESPACES); nothing was rented`,
    );
    for (let i = 0; i < 3; i++) await ground.pass();
    expect(liveInstances(ground)).toEqual([]);
    expect(await ground.deps.store.getPod(created.metadata?.uid as string)).toBeUndefined();
    await deleteAndDrain(ground, other);
  });
});
