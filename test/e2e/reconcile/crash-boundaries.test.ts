import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PodStatusUpdate } from '../../../lib/kube/cluster.ts';
import { type CallCounts, counting } from '../../../lib/reconcile/counting.ts';
import { runPass } from '../../../lib/reconcile/pass.ts';
import { PROVISIONED } from '../../../lib/reconcile/status.ts';
import type { PodWrite } from '../../../lib/state/store.ts';
import { createTestNamespace, eventually } from '../../support/index.ts';
import { CrashingProcess, type CrashPoint } from './crash.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntilPhase } from './pods.ts';

// ADR 0005 §3 on the real parts: a pass killed at each step boundary of a rent leaves a state
// the next, fresh pass finishes — the instance is adopted by its tag or the rent resumes, the
// create is never resent blindly, nothing is rented twice and nothing leaks.

const CRASHES: {
  at: string;
  point: CrashPoint;
  left: 'creating' | 'starting';
  live: number;
  adopted: boolean;
}[] = [
  {
    at: 'before create (intent recorded, request never sent)',
    point: (kind, method) => kind === 'provider' && method === 'create',
    left: 'creating',
    live: 0,
    adopted: false,
  },
  {
    at: 'after create, before the instance is recorded',
    point: (kind, method, args) =>
      kind === 'store' && method === 'putPod' && (args[0] as PodWrite).stage === 'starting',
    left: 'creating',
    live: 1,
    adopted: true,
  },
  {
    at: 'after the instance is recorded, before the pod status is written',
    point: (kind, method, args) =>
      kind === 'kube' &&
      method === 'updatePodStatus' &&
      (args[1] as PodStatusUpdate).conditions.some((c) => c.type === PROVISIONED && c.status === 'True'),
    left: 'starting',
    live: 1,
    adopted: false,
  },
];

describe('a pass killed at a step boundary of a rent (vastai)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', {
      offers: 200,
      // Short enough that the dead pass's lease and its unanswered create are given up within seconds.
      config: { createLagMs: 2_000, podLeaseMs: 2_000, gcGraceMs: 15_000 },
    });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it.each(CRASHES)(
    'crash $at → a fresh pass finishes with one instance',
    async ({ at, point, left, live, adopted }) => {
      const calls: CallCounts = {};
      const adapter = counting(ground.adapter, 'vastai', calls);
      ground.deps.providers = { vastai: adapter };
      const ns = await createTestNamespace('e2e-crash');
      const pod = await ns.core.createNamespacedPod({ namespace: ns.name, body: aGpuPod(ground, 'victim') });
      const uid = pod.metadata?.uid as string;
      await eventually(
        async () =>
          (await ns.core.readNamespacedPod({ namespace: ns.name, name: 'victim' })).spec?.nodeName
            ? true
            : undefined,
        { what: 'the scheduler binding the pod to the virtual node' },
      );

      const crash = new CrashingProcess(point);
      const dying = {
        ...ground.deps,
        store: crash.wrap(ground.deps.store, 'store'),
        cluster: crash.wrap(ground.deps.cluster, 'kube'),
        providers: { vastai: crash.wrap(adapter, 'provider') },
      };
      await runPass(dying, { now: ground.clock(), deadline: ground.clock() + 30_000 }).catch(() => undefined);
      expect(crash.diedAt, `the pass reached the crash point ${at}`).toBeDefined();
      // What the dead pass left behind: the record at its last durable step, the instance if sent.
      expect((await ground.deps.store.getPod(uid))?.stage).toBe(left);
      expect(liveInstances(ground).filter((i) => i.label.endsWith(`.${uid}`))).toHaveLength(live);

      const running = await passUntilPhase(ground, ns, 'victim', 'Running');
      const record = await ground.deps.store.getPod(uid);
      const mine = liveInstances(ground).filter((i) => i.label.endsWith(`.${uid}`));
      expect(mine.map((i) => i.id)).toEqual([record?.instance?.id]);
      expect(calls['vastai.create']).toBe(1);
      expect(running.status?.podIP).toBe(record?.vpnAddress);
      const said = await eventLines(ns.core, ns.name, uid);
      expect(said.some((l) => l.startsWith('Adopted:'))).toBe(adopted);

      await deleteAndDrain(ground, ns);
    },
  );
});
