import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';
import { describePass, startLocalReconciler } from '../../../lib/local/local-reconciler.ts';
import type { PodChange } from '../../../lib/local/pod-watch.ts';
import type { PassSummary } from '../../../lib/reconcile/pass.ts';
import { eventually } from '../../support/eventually.ts';
import { anOffer, gpuPod, harness } from '../reconcile/harness.ts';

const NODES = [virtualNodeSpec('vastai', 'anex-vastai')];

/** A local reconciler over the unit harness (MemoryStore, MemoryCluster, FakeProvider) with a hand-driven watch. */
async function started(intervalMs = 60_000) {
  const h = harness();
  h.vast.offers = [anOffer({ offerId: '1', machineId: '10', pricePerHour: 0.4 })];
  let emit: (change: PodChange) => void = () => {};
  const lines: string[] = [];
  const reconciler = await startLocalReconciler({
    deps: h.deps,
    kubeConfig: new KubeConfig(),
    nodes: NODES,
    passIntervalMs: intervalMs,
    heartbeatIntervalMs: 1_000,
    log: (line) => lines.push(line),
    watch: (onChange) => {
      emit = onChange;
      return { stop: () => {} };
    },
  });
  return { h, reconciler, lines, emit: (change: PodChange) => emit(change) };
}

describe('startLocalReconciler', () => {
  it('registers the virtual nodes before it returns, and renews their leases', async () => {
    const { h, reconciler } = await started();
    expect(h.cluster.node('anex-vastai')).toBeDefined();
    await eventually(async () => h.cluster.lease('anex-vastai'), { what: 'the node lease' });
    await reconciler.stop();
  });

  it('runs a full pass at start: a pod already bound is provisioned', async () => {
    const { h, reconciler } = await started();
    h.cluster.addPod(gpuPod(1));
    reconciler.trigger();
    await eventually(async () => (h.vast.creates.length === 1 ? true : undefined), { what: 'one create' });
    await reconciler.stop();
    expect(h.vast.creates).toHaveLength(1);
  });

  it('a pod bound later is provisioned by the pass its watch event triggers, not by the timer', async () => {
    const { h, reconciler, emit } = await started(3_600_000);
    await eventually(async () => (h.vast.calls.listTagged > 0 ? true : undefined), {
      what: 'the first pass',
    });
    const pod = h.cluster.addPod(gpuPod(2));
    emit({ kind: 'bound', uid: pod.uid, namespace: pod.namespace, name: pod.name });
    await eventually(async () => (h.vast.creates.length === 1 ? true : undefined), { what: 'the create' });
    expect(h.vast.creates[0]?.tag.podUid).toBe(pod.uid);
    await reconciler.stop();
  });

  it('stop() waits for the pass in flight, so its create is never cut off', async () => {
    const { h, reconciler } = await started();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const create = h.vast.create.bind(h.vast);
    h.vast.create = async (...args) => {
      await gate;
      return create(...args);
    };
    h.cluster.addPod(gpuPod(3));
    reconciler.trigger();
    await eventually(async () => (h.vast.calls.listOffers > 0 ? true : undefined), {
      what: 'the offer search',
    });
    const stopping = reconciler.stop();
    let stopped = false;
    void stopping.then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(h.vast.creates).toHaveLength(1);
    expect((await h.store.listPods())[0]?.instance?.id).toBe(h.vast.live()[0]?.id);
  });
});

function aSummary(overrides: Partial<PassSummary> = {}): PassSummary {
  return {
    pods: 2,
    plans: {},
    executed: 0,
    skipped: { deadline: 0, busy: 0, moved: 0, 'pod-exists': 0, 'provider-blocked': 0 },
    statusWrites: 0,
    events: 0,
    offerListings: 0,
    providersDown: [],
    errors: [],
    calls: {},
    durationMs: 12,
    ...overrides,
  };
}

describe('describePass', () => {
  it.each([
    ['a quiet pass', aSummary(), undefined, undefined],
    [
      'a pass that acted',
      aSummary({ executed: 1, plans: { provision: 1, wait: 1 } }),
      undefined,
      'pass: 2 pod(s) [provision 1, wait 1], 1 acted on, 12 ms',
    ],
    [
      'a per-pod pass',
      aSummary({ executed: 1, plans: { started: 1 } }),
      '0123456789ab',
      'pass (pod 01234567): 2 pod(s) [started 1], 1 acted on, 12 ms',
    ],
    [
      'a provider down',
      aSummary({ providersDown: ['vastai'] }),
      undefined,
      'pass: 2 pod(s), 0 acted on, 12 ms, provider down: vastai',
    ],
  ])('%s', (_name, summary, podUid, expected) => {
    expect(describePass(summary, podUid)).toBe(expected);
  });

  it('lists every error on its own line', () => {
    const errors = [
      {
        scope: 'provision default/a',
        kind: 'capacity' as const,
        retryable: true,
        message: 'provision default/a: no capacity',
      },
    ];
    expect(describePass(aSummary({ errors }))).toBe(
      'pass: 2 pod(s), 0 acted on, 12 ms\n  error: provision default/a: no capacity',
    );
  });
});
