import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVISIONED } from '../../../lib/reconcile/status.ts';
import { createTestNamespace, eventually } from '../../support/index.ts';
import { fixturePod, liveInstances, podEvents, type ReconcileGround, startGround } from './ground.ts';

// The seed's example pod on each provider, end to end: the real scheduler binds it to our
// virtual node, passes rent the cheapest matching simulator offer, report Pending → Running
// with events and the pod's VPN address, and deletion destroys the instance before the pod goes.

describe.each([
  { provider: 'vastai' as const, file: 'seed-example-vastai.yaml' },
  { provider: 'runpod' as const, file: 'seed-example-runpod.yaml' },
])('seed example on $provider', ({ provider, file }) => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround(provider);
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('goes Pending → Running with status, events and podIP, then deletion destroys the instance', async () => {
    const ns = await createTestNamespace('e2e-seed');
    const body = fixturePod(ground, file);
    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body });
    const name = created.metadata?.name as string;
    const uid = created.metadata?.uid as string;

    const running = await eventually(
      async () => {
        const summary = await ground.pass();
        const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name });
        return pod.status?.phase === 'Running' ? { pod, summary } : undefined;
      },
      { what: `${provider} seed pod Running`, timeoutMs: 90_000, intervalMs: 500 },
    );
    const status = running.pod.status;
    expect(running.pod.spec?.nodeName).toBe(ground.nodeName);
    expect(status?.podIP).toMatch(/^10\.98\.0\.\d+$/);
    // Running came from the agent: the machine ran the provider's exec form, the stub fetched
    // the real agent, which bootstrapped with its token and started the pod's command.
    const machines = [...ground.agents.runner.machines().values()];
    expect(machines).toHaveLength(1);
    const log = machines[0]?.log() ?? '';
    expect(log).toMatch(
      new RegExp(`anex-agent: agent \\d+ bootstrapped pod ${uid}; running "python" without a tunnel`),
    );
    expect(log).toContain('python (simulated) started: train.py');
    expect(status?.containerStatuses?.[0]).toMatchObject({ name: 'training', ready: true });
    expect(status?.containerStatuses?.[0]?.state?.running?.startedAt).toBeDefined();
    const conditions = Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conditions).toMatchObject({ PodScheduled: 'True', Ready: 'True', [PROVISIONED]: 'True' });
    const reasons = (await podEvents(ns.core, ns.name, uid)).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['OfferSelected', 'Provisioning', 'Started']));
    // Steady state on the real API server: nothing rewritten (stored times round-trip), O(1) reads.
    await ground.pass();
    const steady = await ground.pass();
    expect({ writes: steady.statusWrites, events: steady.events, errors: steady.errors }).toEqual({
      writes: 0,
      events: 0,
      errors: [],
    });
    expect(steady.calls).toEqual({
      'store.listPods': 1,
      'kube.listPods': 1,
      'store.listBans': 1,
      [`${provider}.listTagged`]: 1,
      // RunPod keeps registry credentials apart from pods: one list per full pass sweeps them (ADR 0016).
      ...(provider === 'runpod' ? { 'runpod.sweepCredentials': 1 } : {}),
    });
    const live = liveInstances(ground);
    expect(live.map((i) => i.label)).toEqual([`anex.${ground.deps.config.clusterId}.${uid}`]);

    await ns.core.deleteNamespacedPod({ namespace: ns.name, name });
    await eventually(
      async () => {
        await ground.pass();
        const gone = await ns.core.readNamespacedPod({ namespace: ns.name, name }).then(
          () => false,
          (error: { code?: number }) => error.code === 404,
        );
        return gone ? true : undefined;
      },
      { what: `${provider} seed pod deleted`, timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(liveInstances(ground)).toEqual([]);
    expect(await ground.deps.store.getPod(uid)).toBeUndefined();
    // The destroyed machine's processes are gone with it.
    await ground.agents.play();
    expect(ground.agents.runner.machines().size).toBe(0);
  });
});
