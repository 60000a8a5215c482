import { describe, expect, it } from 'vitest';
import type { PodRecord } from '../../../lib/state/store.ts';
import { anOffer, gpuPod, type Harness, harness, MINUTE, T0, uid } from './harness.ts';

/** A pod rented and Running after two passes. */
async function runningPod(h: Harness, n = 1, extra: Parameters<typeof gpuPod>[1] = {}) {
  h.vast.offers.push(anOffer(), anOffer());
  const pod = h.cluster.addPod(gpuPod(n, extra));
  await h.pass();
  h.tick(MINUTE);
  h.vast.advance();
  await h.pass();
  expect(h.cluster.pod('default', pod.name)?.status?.phase).toBe('Running');
  return pod;
}

describe('runPass: end of a pod', () => {
  it.each([
    { policy: 'Never' as const, code: 0, phase: 'Succeeded', reason: 'Completed', creates: 1 },
    { policy: 'Never' as const, code: 3, phase: 'Failed', reason: 'Error', creates: 1 },
    { policy: 'OnFailure' as const, code: 0, phase: 'Succeeded', reason: 'Completed', creates: 1 },
  ])(
    'restartPolicy $policy, exit $code → $phase, instance destroyed',
    async ({ policy, code, phase, reason, creates }) => {
      const h = harness();
      const pod = await runningPod(h, 1, { restartPolicy: policy });
      h.vast.setState('i-1', { phase: 'exited', exitCode: code });
      h.tick(MINUTE);
      await h.pass();

      const status = h.cluster.pod('default', pod.name)?.status;
      expect(status?.phase).toBe(phase);
      expect(status?.containerStatuses[0]?.state).toMatchObject({ terminated: { exitCode: code, reason } });
      expect(h.vast.live()).toEqual([]);
      expect(h.vast.creates).toHaveLength(creates);
      expect(h.cluster.events(pod).find((e) => e.reason === 'Terminated')?.message).toContain(
        'billing stopped',
      );
    },
  );

  it.each([
    { policy: 'OnFailure' as const, code: 1 },
    { policy: 'Always' as const, code: 0 },
  ])(
    'restartPolicy $policy, exit $code → rents a new machine and counts a restart',
    async ({ policy, code }) => {
      const h = harness();
      const pod = await runningPod(h, 1, { restartPolicy: policy });
      h.vast.setState('i-1', { phase: 'exited', exitCode: code });
      h.tick(MINUTE);
      await h.pass();
      h.tick(MINUTE);
      h.vast.advance();
      await h.pass();

      expect(h.vast.creates).toHaveLength(2);
      expect(h.vast.live().map((i) => i.id)).toEqual(['i-2']);
      const status = h.cluster.pod('default', pod.name)?.status;
      expect(status?.phase).toBe('Running');
      expect(status?.containerStatuses[0]?.restartCount).toBe(1);
    },
  );

  it('destroys the instance, then deletes the pod and its record on deletion', async () => {
    const h = harness();
    const pod = await runningPod(h);
    h.cluster.requestDeletion(pod);
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.live()).toEqual([]);
    expect(h.cluster.pod('default', pod.name)).toBeUndefined();
    expect(await h.store.getPod(pod.uid)).toBeUndefined();
  });

  it('keeps a deleted pod Terminating while a create outcome is unknown, then finishes without a leak', async () => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer()];
    h.vast.listLagMs = 5 * MINUTE;
    h.vast.onCreate('lost-answer');
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    h.cluster.requestDeletion(pod);
    h.tick(MINUTE);
    await h.pass();
    expect(h.cluster.pod('default', pod.name)).toBeDefined();

    for (let i = 0; i < 3; i++) {
      h.tick(MINUTE);
      await h.pass();
    }
    // Gone from Kubernetes once the read-lag window passed; the late instance is an orphan now…
    expect(h.cluster.pod('default', pod.name)).toBeUndefined();
    expect(h.vast.live()).toHaveLength(1);
    for (let i = 0; i < 8; i++) {
      h.tick(MINUTE);
      await h.pass();
    }
    // …and garbage-collected once older than the grace.
    expect(h.vast.live()).toEqual([]);
    expect(h.vast.creates).toHaveLength(1);
  });
});

describe('runPass: garbage collection', () => {
  it('destroys an orphan tagged instance only after the grace period, and never another cluster’s', async () => {
    const h = harness({ gcGraceMs: 10 * MINUTE });
    const tag = (clusterId: string) => ({ clusterId, podUid: uid(77) });
    h.vast.seed({ id: 'orphan', tag: tag('test'), state: { phase: 'running' }, createdAt: T0 - 2 * MINUTE });
    h.vast.seed({
      id: 'foreign',
      tag: tag('other'),
      state: { phase: 'running' },
      createdAt: T0 - 60 * MINUTE,
    });
    await h.pass();
    expect(h.vast.destroyed).toEqual([]);
    h.tick(9 * MINUTE);
    await h.pass();
    expect(h.vast.destroyed).toEqual(['orphan']);
    expect(h.vast.live().map((i) => i.id)).toEqual(['foreign']);
  });

  it('destroys the instance and forgets the record of a pod removed behind our back', async () => {
    const h = harness();
    const pod = await runningPod(h);
    h.cluster.removePod(pod);
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.live()).toEqual([]);
    expect(await h.store.getPod(pod.uid)).toBeUndefined();
  });
});

describe('runPass: crash safety', () => {
  it('after an unknown create outcome, waits for the tag and adopts the instance instead of renting again', async () => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer()];
    h.vast.listLagMs = 90_000;
    h.vast.onCreate('lost-answer');
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    expect((await h.store.getPod(pod.uid))?.stage).toBe('creating');
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.calls.create).toBe(1);
    h.tick(MINUTE);
    await h.pass();

    expect(h.vast.calls.create).toBe(1);
    expect(await h.store.getPod(pod.uid)).toMatchObject({ stage: 'starting', instance: { id: 'i-1' } });
    expect(h.cluster.events(pod).map((e) => e.reason)).toContain('Adopted');
  });

  it('after an unknown create that rented nothing, tries again once the read-lag window has passed', async () => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer()];
    h.vast.onCreate('lost-request');
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    h.tick(h.config.createLagMs - 1);
    await h.pass();
    expect(h.vast.calls.create).toBe(1);
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.calls.create).toBe(2);
    expect(h.vast.live()).toHaveLength(1);
    expect((await h.store.getPod(pod.uid))?.attempts).toBe(2);
  });

  it.each([
    { boundary: 'intent recorded, create never sent', crash: 'create' },
    { boundary: 'instance created, not yet recorded', crash: 'record' },
    { boundary: 'instance recorded, status not yet written', crash: 'status' },
  ] as const)('recovers from a crash at "$boundary": one instance, no leak, Running', async ({ crash }) => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer()];
    const pod = h.cluster.addPod(gpuPod(1));
    const crashed = crashOnce(h, crash);
    await expect(h.pass()).resolves.toBeDefined();
    expect(crashed.fired).toBe(true);
    for (let i = 0; i < 5; i++) {
      h.tick(MINUTE);
      h.vast.advance();
      await h.pass();
    }
    expect(h.vast.live()).toHaveLength(1);
    expect(h.vast.creates.length).toBe(1);
    expect(h.cluster.pod('default', pod.name)?.status?.phase).toBe('Running');
  });

  it('three concurrent passes rent exactly one instance per pod', async () => {
    const h = harness();
    h.vast.offers = Array.from({ length: 12 }, () => anOffer());
    const pods = [1, 2, 3, 4, 5].map((n) => h.cluster.addPod(gpuPod(n)));
    for (let round = 0; round < 3; round++) {
      await Promise.all([h.pass(), h.pass(), h.pass()]);
      h.tick(MINUTE);
      h.vast.advance();
    }
    const byPod = new Map<string, number>();
    for (const i of h.vast.live()) byPod.set(i.tag?.podUid ?? '', (byPod.get(i.tag?.podUid ?? '') ?? 0) + 1);
    expect([...byPod.entries()].sort()).toEqual(pods.map((p) => [p.uid, 1]).sort());
    expect(h.vast.creates).toHaveLength(5);
  });

  it('leaves running pods untouched while the provider is down: no status writes, no events, no flapping', async () => {
    const h = harness();
    const pod = await runningPod(h);
    const before = h.cluster.pod('default', pod.name)?.status;
    const record = await h.store.getPod(pod.uid);
    h.vast.down = true;
    const writes = h.cluster.calls.updatePodStatus;
    for (let i = 0; i < 3; i++) {
      h.tick(MINUTE);
      const summary = await h.pass();
      expect(summary.providersDown).toEqual(['vastai']);
      expect(summary.errors.map((e) => e.kind)).toEqual(['unavailable']);
    }
    expect(h.cluster.calls.updatePodStatus).toBe(writes);
    expect(h.cluster.pod('default', pod.name)?.status).toEqual(before);
    expect(await h.store.getPod(pod.uid)).toEqual(record);
    h.vast.down = false;
    h.tick(MINUTE);
    await h.pass();
    expect(h.cluster.calls.updatePodStatus).toBe(writes);
  });
});

/** Makes one step of the first provisioning throw as if the process died there. */
function crashOnce(h: Harness, at: 'create' | 'record' | 'status'): { fired: boolean } {
  const state = { fired: false };
  const fire = () => {
    state.fired = true;
    throw new Error(`process died (${at})`);
  };
  if (at === 'create') {
    const create = h.vast.create.bind(h.vast);
    h.vast.create = async (...args) => (state.fired ? create(...args) : fire());
  } else if (at === 'record') {
    const putPod = h.store.putPod.bind(h.store);
    h.store.putPod = async (record: Parameters<typeof putPod>[0], options) =>
      !state.fired && (record as PodRecord).stage === 'starting' ? fire() : putPod(record, options);
  } else {
    const update = h.cluster.updatePodStatus.bind(h.cluster);
    h.cluster.updatePodStatus = async (...args) => (state.fired ? update(...args) : fire());
  }
  return state;
}
