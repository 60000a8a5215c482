import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntil, passUntilPhase } from './pods.ts';

// DESIGN §4 "Running (agent reports the container started)" on the real parts: a machine the
// marketplace reports running whose agent never reports is ContainerCreating, and under the
// start timeout like a machine that never boots (destroyed, banned).

describe('a machine up but its agent silent (vastai, no agent played)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', {
      offers: 200,
      agent: 'none',
      config: { startTimeoutMs: { vastai: 3_000, runpod: 3_000 }, maxAttempts: 1 },
    });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('waits in ContainerCreating, then the start timeout destroys and bans the machine', async () => {
    const ns = await createTestNamespace('e2e-agent');
    const pod = await ns.core.createNamespacedPod({ namespace: ns.name, body: aGpuPod(ground, 'silent') });
    const uid = pod.metadata?.uid as string;
    const waiting = await passUntil(ground, ns, 'silent', {
      what: 'waiting for the agent',
      check: (p) =>
        /is up; waiting for the anex agent/.test(
          p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '',
        ),
    });
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('ContainerCreating');
    const record = await ground.deps.store.getPod(uid);
    expect(waiting.status?.podIP).toBe(record?.vpnAddress);
    expect(liveInstances(ground).map((i) => i.state)).toEqual(['running']);

    const failed = await passUntilPhase(ground, ns, 'silent', 'Failed');
    expect(failed.status?.reason).toBe('ProvisioningFailed');
    expect(failed.status?.message).toContain(
      'is up but the anex agent did not start the container within 3 s',
    );
    const bans = await ground.deps.store.listBans('vastai', ground.clock());
    expect(bans.map((b) => b.machineId)).toEqual([record?.instance?.machineId]);
    const said = await eventLines(ns.core, ns.name, uid);
    expect(said.some((l) => l.startsWith('MachineBanned:'))).toBe(true);
    expect(liveInstances(ground)).toEqual([]);

    await deleteAndDrain(ground, ns);
  });
});
