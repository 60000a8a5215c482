import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace, NODE_MONITOR } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, passUntilPhase } from './pods.ts';

// DESIGN §4 "A provider outage never makes the node NotReady", on the real controller-manager
// (node-monitor grace shortened to 20 s): the marketplace answers 503 for three grace periods
// while the heartbeat runs and passes keep coming. The node stays Ready, the running pods are
// not touched (no status write, no eviction, no taint), and when the provider is back nothing
// is destroyed.

const DOWN_MS = 3 * NODE_MONITOR.gracePeriodSeconds * 1000 + 5_000;
const PASS_EVERY_MS = 3_000;

interface Observation {
  ready: string | undefined;
  taints: string[];
  pods: { name: string; phase: string | undefined; resourceVersion: string | undefined }[];
  providersDown: string[];
}

describe('the provider down for three node grace periods (vastai)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', { offers: 200 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('keeps the node Ready and the running pods untouched, and destroys nothing when it is back', async () => {
    const ns = await createTestNamespace('e2e-down');
    for (const name of ['steady-a', 'steady-b']) {
      await ns.core.createNamespacedPod({ namespace: ns.name, body: aGpuPod(ground, name) });
    }
    for (const name of ['steady-a', 'steady-b']) await passUntilPhase(ground, ns, name, 'Running');
    await ground.pass();
    const before = await observe(ground, ns.name, []);
    const instances = liveInstances(ground).map((i) => i.id);
    expect(instances).toHaveLength(2);

    await ground.sim.setDown('503');
    const seen: Observation[] = [];
    const seenAt: number[] = [];
    const until = Date.now() + DOWN_MS;
    while (Date.now() < until) {
      const summary = await ground.pass();
      seen.push(await observe(ground, ns.name, summary.providersDown));
      seenAt.push(Date.now());
      await sleep(PASS_EVERY_MS);
    }
    await ground.sim.setDown(false);

    // Observations across more than two grace periods, whatever a pass takes on a busy machine:
    // the node lifecycle controller would have marked the node NotReady within one.
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect((seenAt.at(-1) ?? 0) - (seenAt[0] ?? 0)).toBeGreaterThan(
      2 * NODE_MONITOR.gracePeriodSeconds * 1000,
    );
    for (const observation of seen) {
      expect(observation).toEqual({ ...before, providersDown: ['vastai'] });
    }

    for (let i = 0; i < 3; i++) await ground.pass();
    const after = await observe(ground, ns.name, []);
    expect(after.ready).toBe('True');
    expect(after.pods.map((p) => p.phase)).toEqual(['Running', 'Running']);
    expect(liveInstances(ground).map((i) => i.id)).toEqual(instances);

    await deleteAndDrain(ground, ns);
  }, 240_000);
});

async function observe(
  ground: ReconcileGround,
  namespace: string,
  providersDown: string[],
): Promise<Observation> {
  const node = await ground.core.readNode({ name: ground.nodeName });
  const pods = (await ground.core.listNamespacedPod({ namespace })).items
    .map((p) => ({
      name: p.metadata?.name ?? '',
      phase: p.status?.phase,
      resourceVersion: p.metadata?.resourceVersion,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    ready: node.status?.conditions?.find((c) => c.type === 'Ready')?.status,
    // Taints the controller-manager adds (not-ready, unreachable) would show here next to ours.
    taints: (node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).sort(),
    pods,
    providersDown,
  };
}
