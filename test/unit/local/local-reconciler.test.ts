import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';
import {
  describePass,
  repairTolerations,
  startLocalReconciler,
} from '../../../lib/local/local-reconciler.ts';
import type { OutageRepair, RepairOutcome } from '../../../lib/local/outage-repair.ts';
import type { PodChange } from '../../../lib/local/pod-watch.ts';
import type { PassSummary } from '../../../lib/reconcile/pass.ts';
import { eventually } from '../../support/eventually.ts';
import { anOffer, gpuPod, harness } from '../reconcile/harness.ts';

const NODES = [virtualNodeSpec('vastai', 'anex-vastai')];

/** A local reconciler over the unit harness (MemoryStore, MemoryCluster, FakeProvider) with a hand-driven watch. */
async function started(intervalMs = 60_000, outageRepair?: OutageRepair) {
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
    ...(outageRepair === undefined ? {} : { outageRepair }),
    watch: (onChange) => {
      emit = onChange;
      return { stop: () => {} };
    },
  });
  return { h, reconciler, lines, emit: (change: PodChange) => emit(change) };
}

/** An OutageRepair answering from a script (an Error is thrown), recording what it was asked. */
function scriptedRepair(script: (RepairOutcome | Error)[]): OutageRepair & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async repair(pod) {
      asked.push(`${pod.namespace}/${pod.name}`);
      const next = script.shift() ?? 'unchanged';
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

describe('outage repair in local mode', () => {
  it('repairs a pod the watch sees bound — not one being deleted or gone — and logs the change', async () => {
    const repair = scriptedRepair(['patched']);
    const { reconciler, emit, lines } = await started(3_600_000, repair);
    emit({ kind: 'bound', uid: 'u-1', namespace: 'ml', name: 'train' });
    emit({ kind: 'deleting', uid: 'u-2', namespace: 'ml', name: 'old' });
    emit({ kind: 'deleted', uid: 'u-3', namespace: 'ml', name: 'older' });
    await eventually(async () => lines.find((l) => l.includes('outage tolerations made permanent')), {
      what: 'the repair logged',
    });
    expect(repair.asked).toEqual(['ml/train']);
    await reconciler.stop();
  });

  it.each<[string, (RepairOutcome | Error)[], number, RegExp | undefined]>([
    [
      'retries a failed repair, quietly when it then works',
      [new Error('apiserver down'), 'unchanged'],
      2,
      undefined,
    ],
    [
      'gives up after three attempts, saying so',
      [new Error('a'), new Error('b'), new Error('c')],
      3,
      /could not make its outage tolerations permanent: c/,
    ],
  ])('%s', async (_what, script, attempts, logged) => {
    const repair = scriptedRepair(script);
    const lines: string[] = [];
    await repairTolerations(
      repair,
      { namespace: 'ml', name: 'train' },
      (l) => lines.push(l),
      () => false,
      1,
    );
    expect(repair.asked).toHaveLength(attempts);
    if (logged === undefined) expect(lines).toEqual([]);
    else expect(lines).toEqual([expect.stringMatching(logged)]);
  });
});

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
