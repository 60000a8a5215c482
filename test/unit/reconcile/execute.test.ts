import { describe, expect, it } from 'vitest';
import { runPass } from '../../../lib/reconcile/pass.ts';
import { anOffer, aRunPodOffer, gpuPod, harness, MINUTE } from './harness.ts';

describe('execute', () => {
  it('starts no work once the deadline has passed, and says so', async () => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer()];
    h.cluster.addPod(gpuPod(1));
    h.cluster.addPod(gpuPod(2));
    const summary = await runPass(h.deps, { now: h.now, deadline: h.now });
    expect(summary.skipped.deadline).toBe(2);
    expect(h.vast.calls.create).toBe(0);
    expect(h.cluster.calls.updatePodStatus).toBe(0);
  });

  it('isolates one pod’s failure: the others are still reconciled and the error is reported', async () => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer(), anOffer()];
    const pods = [1, 2, 3].map((n) => h.cluster.addPod(gpuPod(n)));
    h.cluster.failNext('recordEvent');
    const summary = await h.pass({ concurrency: 1 });
    expect(summary.errors.map((e) => e.kind)).toEqual(['unavailable']);
    expect(h.vast.live()).toHaveLength(3);
    const reported = pods.filter((p) => h.cluster.pod('default', p.name)?.status?.containerStatuses.length);
    expect(reported).toHaveLength(2);

    // The next pass repairs what the failure left out, without renting again.
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.calls.create).toBe(3);
    expect(pods.every((p) => h.cluster.pod('default', p.name)?.status?.containerStatuses.length)).toBe(true);
  });

  it('skips a pod whose record moved since it was observed (another pass acted)', async () => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer()];
    const pod = h.cluster.addPod(gpuPod(1));
    const putPod = h.store.putPod.bind(h.store);
    let raced = false;
    // Another pass writes the record between this pass's observe and its lease.
    h.store.acquireLease = async (name, owner, options) => {
      if (!raced) {
        raced = true;
        await putPod(
          {
            podUid: pod.uid,
            namespace: 'default',
            name: pod.name,
            provider: 'vastai',
            stage: 'pending',
            attempts: 0,
          },
          { expectedVersion: undefined, now: h.now },
        );
      }
      return Object.getPrototypeOf(h.store).acquireLease.call(h.store, name, owner, options);
    };
    const summary = await h.pass();
    expect(summary.skipped.moved).toBe(1);
    expect(h.vast.calls.create).toBe(0);
  });

  it('with podUid reconciles only that pod and leaves garbage collection to the full pass', async () => {
    const h = harness({ gcGraceMs: 0 });
    h.vast.offers = [anOffer(), anOffer()];
    const one = h.cluster.addPod(gpuPod(1));
    h.cluster.addPod(gpuPod(2));
    h.vast.seed({
      id: 'orphan',
      tag: { clusterId: 'test', podUid: '00000000-0000-4000-8000-0000000000ff' },
      state: { phase: 'running' },
      createdAt: 0,
    });
    const summary = await h.pass({ podUid: one.uid });
    expect(summary.pods).toBe(1);
    expect(h.vast.creates.map((c) => c.tag.podUid)).toEqual([one.uid]);
    expect(h.vast.destroyed).toEqual([]);
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.destroyed).toEqual(['orphan']);
  });

  it('says why an instance is released even when its destroy fails that pass (the next pass only finishes it)', async () => {
    const h = harness();
    h.runpod.offers = [
      aRunPodOffer({ offerId: 'RTX 4090|SECURE|EU-RO-1|1', pricePerHour: 0.69 }),
      aRunPodOffer({ offerId: 'RTX 4090|SECURE|EU-SE-1|1', pricePerHour: 0.74 }),
    ];
    const pod = h.cluster.addPod(gpuPod(1, { provider: 'runpod' }));
    await h.pass();
    h.runpod.setState('i-1', { phase: 'failed', fault: 'host', reason: 'CUDA error 804' });
    h.runpod.failNext('destroy');
    h.tick(MINUTE);
    const failed = await h.pass();
    expect(failed.errors.map((e) => e.kind)).toEqual(['unavailable']);
    const reasons = () => h.cluster.events(pod).map((e) => e.reason);
    expect(reasons()).toContain('MachineBanned');
    const said = reasons().length;

    h.tick(MINUTE);
    await h.pass();
    expect(h.runpod.destroyed).toEqual(['i-1']);
    expect(h.runpod.creates).toHaveLength(2);
    // Said once: the resumed release does not repeat the failure.
    expect(reasons().filter((r) => r === 'MachineBanned')).toHaveLength(1);
    expect(reasons().length).toBeGreaterThan(said);
  });
});
