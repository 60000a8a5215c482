import { describe, expect, it } from 'vitest';
import type { PodView } from '../../../lib/kube/cluster.ts';
import type { Offer } from '../../../lib/offers/offer.ts';
import type { Instance } from '../../../lib/providers/provider.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../../../lib/reconcile/config.ts';
import { plan } from '../../../lib/reconcile/plan.ts';
import { requirementsKey } from '../../../lib/reconcile/rules.ts';
import { defaultRules } from '../../../lib/reconcile/rules-default.ts';
import {
  admit,
  currentSpend,
  highestUse,
  limitUses,
  type Spend,
  type SpendLimits,
} from '../../../lib/reconcile/spend-limits.ts';
import type { Observed, ObservedPod, PodPlan } from '../../../lib/reconcile/types.ts';
import type { PodRecord } from '../../../lib/state/store.ts';
import { anOffer, T0, uid } from './harness.ts';

const ALL: SpendLimits = { rentNamespaces: '*' };

function spent(perHour: number, instances: number, byNamespace: Record<string, number> = {}): Spend {
  return { perHour, instances, byNamespace: new Map(Object.entries(byNamespace)) };
}

const at = (...prices: number[]): Offer[] => prices.map((pricePerHour) => anOffer({ pricePerHour }));

describe('admit (the limit arithmetic)', () => {
  it.each([
    {
      case: 'no limits: every candidate, the dearest tried one reserved',
      limits: ALL,
      spend: spent(5, 3),
      offers: at(0.3, 0.6),
      kept: [0.3, 0.6],
      reserve: 0.6,
    },
    {
      case: 'cap 1.0, 0.6 billing, a 0.6 pod waits with the figures',
      limits: { ...ALL, maxSpendPerHour: 1 },
      spend: spent(0.6, 1),
      offers: at(0.6),
      held: 'SpendLimit: total $/h 0.60 + 0.60 > cap 1.00 (ANEX_MAX_SPEND_PER_HOUR)',
    },
    {
      case: 'cap 1.0, 0.4 + 0.6 fits exactly (floating point)',
      limits: { ...ALL, maxSpendPerHour: 1 },
      spend: spent(0.4, 1),
      offers: at(0.6),
      kept: [0.6],
      reserve: 0.6,
    },
    {
      case: 'only the offers under the headroom stay',
      limits: { ...ALL, maxSpendPerHour: 1 },
      spend: spent(0.5, 1),
      offers: at(0.3, 0.5, 0.7),
      kept: [0.3, 0.5],
      reserve: 0.5,
    },
    {
      case: 'per-pod ceiling drops dearer offers',
      limits: { ...ALL, maxPricePerHour: 0.5 },
      spend: spent(0, 0),
      offers: at(0.4, 0.9),
      kept: [0.4],
      reserve: 0.4,
    },
    {
      case: 'per-pod ceiling with no offer under it',
      limits: { ...ALL, maxPricePerHour: 0.5 },
      spend: spent(0, 0),
      offers: at(0.9, 1.2),
      held: 'SpendLimit: pod $/h 0.90 > ceiling 0.50 (ANEX_MAX_PRICE_PER_HOUR)',
    },
    {
      case: 'instance cap reached',
      limits: { ...ALL, maxInstances: 2 },
      spend: spent(0.2, 2),
      offers: at(0.1),
      held: 'SpendLimit: instances 2 + 1 > cap 2 (ANEX_MAX_INSTANCES)',
    },
    {
      case: 'namespace $/h budget',
      limits: { ...ALL, namespaceBudgets: { ml: { perHour: 1 } } },
      spend: spent(0.8, 2, { ml: 0.8 }),
      offers: at(0.3),
      held: 'SpendLimit: namespace ml $/h 0.80 + 0.30 > budget 1.00/h (ANEX_NAMESPACE_BUDGETS)',
    },
    {
      case: 'namespace $/day budget, projected as 24 h at the billed rate',
      limits: { ...ALL, namespaceBudgets: { ml: { perDay: 24 } } },
      spend: spent(0.5, 1, { ml: 0.5 }),
      offers: at(0.6),
      held: 'SpendLimit: namespace ml $/day 12.00 + 14.40 > budget 24.00/day',
    },
    {
      case: "another namespace's budget does not apply",
      limits: { ...ALL, namespaceBudgets: { other: { perHour: 0.1 } } },
      spend: spent(0.5, 1, { other: 0.5 }),
      offers: at(0.6),
      kept: [0.6],
      reserve: 0.6,
    },
    {
      case: 'namespace not enabled',
      limits: { rentNamespaces: ['team-a'] },
      spend: spent(0, 0),
      offers: at(0.1),
      held: 'Namespace ml may not rent machines: the operator has not enabled it (ANEX_RENT_NAMESPACES)',
    },
  ])('$case', ({ limits, spend, offers, kept, reserve, held }) => {
    const verdict = admit({ namespace: 'ml', candidates: offers, spend, limits, tries: 10 });
    if (held !== undefined) {
      expect('held' in verdict && verdict.held.message).toContain(held);
      return;
    }
    if ('held' in verdict) throw new Error(`held: ${verdict.held.message}`);
    expect(verdict.candidates.map((o) => o.pricePerHour)).toEqual(kept);
    expect(verdict.reserve).toBeCloseTo(reserve as number, 9);
  });

  it.each([
    { case: 'no GPU limits: not bounded here', gpuLimit: undefined, counts: [1, 2, 8], kept: [1, 2, 8] },
    { case: 'limits 2: machines with more GPUs are dropped', gpuLimit: 2, counts: [1, 2, 8], kept: [1, 2] },
    {
      case: 'limits 2 and only 8-GPU machines: held, naming both',
      gpuLimit: 2,
      counts: [8, 8],
      kept: undefined,
    },
  ])('GPU limits ($case)', ({ gpuLimit, counts, kept }) => {
    const candidates = counts.map((gpuCount) => anOffer({ gpuCount, pricePerHour: 0.1 * gpuCount }));
    const verdict = admit({
      namespace: 'ml',
      candidates,
      spend: spent(0, 0),
      limits: ALL,
      tries: 10,
      ...(gpuLimit === undefined ? {} : { gpuLimit }),
    });
    if (kept === undefined) {
      expect('held' in verdict && verdict.held).toEqual({
        reason: 'GpuLimitExceeded',
        message: expect.stringContaining(
          "every matching machine has 8 or more GPUs, above the containers' nvidia.com/gpu limits (2)",
        ),
      });
      return;
    }
    expect('candidates' in verdict && verdict.candidates.map((o) => o.gpuCount)).toEqual(kept);
  });

  it('reserves the dearest of the offers the executor may try, not of all', () => {
    const verdict = admit({
      namespace: 'ml',
      candidates: at(0.2, 0.3, 0.9),
      spend: spent(0, 0),
      limits: ALL,
      tries: 2,
    });
    expect('reserve' in verdict && verdict.reserve).toBe(0.3);
  });
});

const LIVE = (id: string, pricePerHour: number | undefined, podUid = uid(1)): Instance => ({
  id,
  provider: 'vastai',
  tag: { clusterId: 'test', podUid },
  state: { phase: 'running' },
  createdAt: T0,
  ...(pricePerHour === undefined ? {} : { pricePerHour }),
});

function aView(n: number, overrides: Partial<PodView> = {}): PodView {
  return {
    namespace: 'ml',
    name: `train-${n}`,
    uid: uid(n),
    nodeName: 'anex-vastai',
    annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
    labels: {},
    nodeSelector: { 'node-provider': 'vastai' },
    containers: [{ name: 'main', image: 'img:1', env: {} }],
    restartPolicy: 'Never',
    status: undefined,
    creationTimestamp: new Date(T0 + n * 1000).toISOString(),
    ...overrides,
  };
}

function aPod(n: number, record?: Partial<PodRecord>, instances: Instance[] = []): ObservedPod {
  const view = aView(n);
  return {
    view,
    provider: 'vastai',
    record:
      record === undefined
        ? undefined
        : {
            podUid: uid(n),
            namespace: 'ml',
            name: view.name,
            provider: 'vastai',
            stage: 'running',
            attempts: 1,
            version: 1,
            updatedAt: T0,
            ...record,
          },
    instances,
    requirements: defaultRules.requirements(view, 'vastai'),
  };
}

describe('currentSpend', () => {
  const none: PodPlan[] = [];
  it.each([
    {
      case: 'listed instances at their billed price',
      pods: [aPod(1, {}, [LIVE('i-1', 0.5)]), aPod(2, {}, [LIVE('i-2', 0.25, uid(2))])],
      perHour: 0.75,
      instances: 2,
    },
    {
      case: 'a recorded instance the list missed (provider down) still counts',
      pods: [
        { ...aPod(1, { instance: { id: 'i-1', createdAt: T0, pricePerHour: 0.4 } }), instances: undefined },
      ],
      perHour: 0.4,
      instances: 1,
    },
    {
      case: 'a create in flight counts once, at the ceiling',
      pods: [aPod(1, { stage: 'creating', intent: { attempt: 1, offerId: 'o', at: T0 } })],
      limits: { rentNamespaces: '*', maxPricePerHour: 0.7 } as SpendLimits,
      perHour: 0.7,
      instances: 1,
    },
    { case: 'a pending pod costs nothing yet', pods: [aPod(1)], perHour: 0, instances: 0 },
  ])('$case', ({ pods, limits = ALL, perHour, instances }) => {
    const spend = currentSpend({ pods, orphanRecords: [], orphanInstances: [], plans: none, limits });
    expect(spend.perHour).toBeCloseTo(perHour, 9);
    expect(spend.instances).toBe(instances);
  });

  it('counts orphans in the totals, and leaves out what a pod’s own plan destroys', () => {
    const pod = aPod(1, {}, [LIVE('i-1', 0.5)]);
    const destroying: PodPlan = {
      podUid: uid(1),
      provider: 'vastai',
      expectedVersion: 1,
      destroy: ['i-1'],
      events: [],
      label: 'release',
    };
    const spend = currentSpend({
      pods: [pod],
      orphanRecords: [],
      orphanInstances: [LIVE('i-9', 0.3, uid(9))],
      plans: [destroying],
      limits: ALL,
    });
    expect([spend.perHour, spend.instances, spend.byNamespace.get('ml') ?? 0]).toEqual([0.3, 1, 0]);
  });
});

describe('currentSpend in a per-pod pass', () => {
  it('counts the other records and loose tagged instances it was given (Observed.others)', () => {
    const other = aPod(2, { instance: { id: 'i-2', createdAt: T0, pricePerHour: 0.5 } }).record as PodRecord;
    const creating = aPod(3, { stage: 'creating', intent: { attempt: 1, offerId: 'o', at: T0 } })
      .record as PodRecord;
    const spend = currentSpend({
      pods: [aPod(1)],
      orphanRecords: [],
      orphanInstances: [],
      others: {
        records: [
          { record: other, instances: [LIVE('i-2', 0.55, uid(2))] },
          { record: creating, instances: [] },
        ],
        instances: [LIVE('i-7', 0.25, uid(7))],
      },
      plans: [],
      limits: { rentNamespaces: '*', maxPricePerHour: 0.7 },
    });
    // billed 0.55 (the listed rate wins over the recorded 0.5), the create in flight at the 0.7 ceiling, 0.25 loose
    expect(spend.perHour).toBeCloseTo(1.5, 9);
    expect(spend.instances).toBe(3);
    expect(spend.byNamespace.get('ml')).toBeCloseTo(1.25, 9);
  });
});

describe('limitUses', () => {
  it('lists each configured limit with its use, and the highest share', () => {
    const limits: SpendLimits = {
      rentNamespaces: '*',
      maxInstances: 4,
      maxSpendPerHour: 2,
      namespaceBudgets: { ml: { perHour: 1, perDay: 48 } },
    };
    const uses = limitUses(spent(1.5, 2, { ml: 0.5 }), limits);
    expect(uses.map((u) => [u.limit, u.used, u.cap])).toEqual([
      ['instances', 2, 4],
      ['total $/h', 1.5, 2],
      ['namespace ml $/h', 0.5, 1],
      ['namespace ml $/day', 12, 48],
    ]);
    expect(highestUse(uses)).toBe(0.75);
  });
});

/** A pod whose machine runs, billed at `price`. */
function running(n: number, price: number): ObservedPod {
  const instance = { id: `i-${n}`, createdAt: T0, pricePerHour: price };
  return aPod(n, { instance, startedAt: T0, launch: 'plain' }, [LIVE(`i-${n}`, price, uid(n))]);
}

describe('plan with spend limits (two pods in one pass)', () => {
  const offers = at(0.6, 0.6, 0.6);
  function observed(pods: ObservedPod[]): Observed {
    const listed = new Map();
    for (const op of pods)
      if (op.requirements.ok) listed.set(requirementsKey(op.requirements.requirements), { ok: true, offers });
    return {
      now: T0,
      pods,
      orphanRecords: [],
      orphanInstances: [],
      bans: { vastai: [] },
      offers: listed,
      providersDown: [],
    };
  }
  const run = (pods: ObservedPod[], spend: SpendLimits) =>
    plan(observed(pods), {
      config: { ...DEFAULT_RECONCILE_CONFIG, clusterId: 'test', spend },
      rules: defaultRules,
    });

  it('cap 1.0 and two pods at 0.6: the older rents, the younger waits with the cap in its event', () => {
    const plans = run([aPod(2), aPod(1)], { rentNamespaces: ['ml'], maxSpendPerHour: 1 });
    const byUid = new Map(plans.map((p) => [p.podUid, p]));
    expect(byUid.get(uid(1))?.label).toBe('provision');
    const held = byUid.get(uid(2));
    expect(held?.provision).toBeUndefined();
    expect(held?.situation).toMatchObject({ kind: 'held', reason: 'SpendLimit' });
    expect(held?.events.filter((e) => e.reason === 'SpendLimit').map((e) => [e.reason, e.message])).toEqual([
      [
        'SpendLimit',
        'SpendLimit: total $/h 0.60 + 0.60 > cap 1.00 (ANEX_MAX_SPEND_PER_HOUR); nothing was rented, the pod waits until it fits',
      ],
    ]);
  });

  it('cap 1.2: both rent', () => {
    const plans = run([aPod(1), aPod(2)], { rentNamespaces: ['ml'], maxSpendPerHour: 1.2 });
    expect(plans.map((p) => p.label)).toEqual(['provision', 'provision']);
  });

  it('says it once: no event when the pod already shows the same message', () => {
    const first = run([running(1, 0.6), aPod(2)], {
      rentNamespaces: ['ml'],
      maxSpendPerHour: 1,
    });
    const message = first.find((p) => p.podUid === uid(2))?.situation;
    const waiting = aPod(2);
    const shown: ObservedPod = {
      ...waiting,
      view: {
        ...waiting.view,
        status: {
          phase: 'Pending' as const,
          conditions: [
            {
              type: 'anex.sh/Provisioned',
              status: 'False' as const,
              reason: 'SpendLimit',
              message: (message as { message: string }).message,
            },
          ],
          containerStatuses: [],
        },
      },
    };
    const again = run([running(1, 0.6), shown], {
      rentNamespaces: ['ml'],
      maxSpendPerHour: 1,
    });
    const held = again.find((p) => p.podUid === uid(2));
    expect(again.find((p) => p.podUid === uid(1))?.destroy).toEqual([]);
    expect(held?.situation).toMatchObject({ kind: 'held', reason: 'SpendLimit' });
    expect(held?.events).toEqual([]);
  });

  it('a gpu-count range around the GPU limits rents no machine with more GPUs than the limits', () => {
    const pod = aPod(1);
    const view: PodView = {
      ...pod.view,
      annotations: {
        'anex.sh/gpu-names': 'RTX 4090',
        'anex.sh/gpu-count-min': '1',
        'anex.sh/gpu-count-max': '8',
      },
      containers: [{ name: 'main', image: 'img:1', env: {}, gpuLimit: 2 }],
    };
    const ranged = { ...pod, view, requirements: defaultRules.requirements(view, 'vastai') };
    const listed = new Map();
    const mixed = [8, 2, 1].map((gpuCount) => anOffer({ gpuCount, pricePerHour: 0.1 * gpuCount }));
    if (!ranged.requirements.ok) throw new Error(ranged.requirements.errors.join('; '));
    listed.set(requirementsKey(ranged.requirements.requirements), { ok: true, offers: mixed });
    const observedOne: Observed = {
      now: T0,
      pods: [ranged],
      orphanRecords: [],
      orphanInstances: [],
      bans: { vastai: [] },
      offers: listed,
      providersDown: [],
    };
    const [decided] = plan(observedOne, {
      config: { ...DEFAULT_RECONCILE_CONFIG, clusterId: 'test', spend: { rentNamespaces: '*' } },
      rules: defaultRules,
    });
    expect(decided?.provision?.candidates.map((o) => o.gpuCount).sort()).toEqual([1, 2]);
  });

  it('a namespace not enabled rents nothing', () => {
    const plans = run([aPod(1)], { rentNamespaces: ['team-a'] });
    expect(plans[0]?.provision).toBeUndefined();
    expect(plans[0]?.situation).toMatchObject({ kind: 'held', reason: 'NamespaceNotEnabled' });
  });
});
