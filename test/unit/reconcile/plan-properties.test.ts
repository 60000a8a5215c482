import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PodView } from '../../../lib/kube/cluster.ts';
import type { Instance, InstanceState } from '../../../lib/providers/provider.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../../../lib/reconcile/config.ts';
import { planPod } from '../../../lib/reconcile/plan.ts';
import { planEnv } from '../../../lib/reconcile/plan-env.ts';
import { requirementsKey } from '../../../lib/reconcile/rules.ts';
import { defaultRules } from '../../../lib/reconcile/rules-default.ts';
import type { Observed, ObservedPod } from '../../../lib/reconcile/types.ts';
import type { PodRecord, PodStage } from '../../../lib/state/store.ts';
import { anOffer, MINUTE, T0, uid } from './harness.ts';

// Money-safety invariants of the plan, over arbitrary records, instance states and times.

const config = { ...DEFAULT_RECONCILE_CONFIG, clusterId: 'test' };
const offers = [anOffer({ machineId: 'm-a' }), anOffer({ machineId: 'm-b' }), anOffer({ machineId: 'm-c' })];

const stateArb: fc.Arbitrary<InstanceState> = fc.oneof(
  fc.constant({ phase: 'pending' as const }),
  fc.constant({ phase: 'starting' as const }),
  fc.constant({ phase: 'running' as const }),
  fc.integer({ min: 0, max: 3 }).map((exitCode) => ({ phase: 'exited' as const, exitCode })),
  fc
    .constantFrom('host', 'image', 'capacity', 'unknown')
    .map((fault) => ({ phase: 'failed' as const, fault, reason: 'x' })),
);

const caseArb = fc.record({
  stage: fc.option(
    fc.constantFrom<PodStage>(
      'pending',
      'creating',
      'starting',
      'running',
      'releasing',
      'finished',
      'terminating',
    ),
    { nil: undefined },
  ),
  attempts: fc.integer({ min: 0, max: 6 }),
  instances: fc.option(fc.array(stateArb, { maxLength: 3 }), { nil: undefined }),
  recordedIndex: fc.integer({ min: 0, max: 3 }),
  deleting: fc.boolean(),
  restartPolicy: fc.constantFrom<PodView['restartPolicy']>('Never', 'OnFailure', 'Always'),
  elapsed: fc.integer({ min: 0, max: 30 * MINUTE }),
  exitReported: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function build(c: Case): { op: ObservedPod; observed: Observed } {
  const view: PodView = {
    namespace: 'ml',
    name: 'p',
    uid: uid(1),
    nodeName: 'anex-vastai',
    annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
    labels: {},
    nodeSelector: { 'node-provider': 'vastai' },
    containers: [{ name: 'main', image: 'img:1', env: {} }],
    restartPolicy: c.restartPolicy,
    status: undefined,
    ...(c.deleting ? { deletionTimestamp: '2026-03-01T12:00:00Z' } : {}),
  };
  const instances: Instance[] | undefined = c.instances?.map((state, i) => ({
    id: `i-${i}`,
    provider: 'vastai',
    tag: { clusterId: 'test', podUid: view.uid },
    state,
    machineId: `m-${i}`,
    createdAt: T0,
  }));
  const record: PodRecord | undefined =
    c.stage === undefined
      ? undefined
      : {
          podUid: view.uid,
          namespace: 'ml',
          name: 'p',
          provider: 'vastai',
          stage: c.stage,
          attempts: c.attempts,
          intent: { attempt: c.attempts, offerId: '1', at: T0 },
          instance: { id: `i-${c.recordedIndex}`, machineId: `m-${c.recordedIndex}`, createdAt: T0 },
          ...(c.exitReported === undefined ? {} : { exitCode: c.exitReported }),
          version: 2,
          updatedAt: T0,
        };
  const op: ObservedPod = {
    view,
    provider: 'vastai',
    record,
    instances,
    requirements: defaultRules.requirements(view, 'vastai'),
  };
  const listed = new Map();
  if (op.requirements.ok) listed.set(requirementsKey(op.requirements.requirements), { ok: true, offers });
  const observed: Observed = {
    now: T0 + c.elapsed,
    pods: [op],
    orphanRecords: [],
    orphanInstances: [],
    bans: { vastai: [] },
    offers: listed,
    providersDown: instances === undefined ? ['vastai'] : [],
  };
  return { op, observed };
}

type Plan = ReturnType<typeof planPod>;
type Op = ReturnType<typeof build>['op'];

/** Rent only after every listed instance of the pod is destroyed earlier in the same plan. */
function expectSafeProvision(plan: Plan, op: Op, listed: readonly string[]): void {
  if (plan.provision === undefined) return;
  for (const id of listed) expect(plan.destroy).toContain(id);
  expect(op.view.deletionTimestamp).toBeUndefined();
  expect(plan.after === undefined || (plan.after !== 'delete' && plan.after.stage === 'pending')).toBe(true);
}

/** Provider down: nothing decided, nothing reported. */
function expectNothingDecided(plan: Plan): void {
  expect({
    destroy: plan.destroy,
    after: plan.after,
    provision: plan.provision,
    situation: plan.situation,
  }).toEqual({ destroy: [], after: undefined, provision: undefined, situation: undefined });
}

describe('plan invariants', () => {
  it('never rents while an instance of the pod is left alive, and never acts blind', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { op, observed } = build(c);
        const plan = planPod(op, planEnv(observed, { config, rules: defaultRules }));
        const listed = (op.instances ?? []).map((i) => i.id);
        expectSafeProvision(plan, op, listed);
        if (op.instances === undefined && !c.deleting) expectNothingDecided(plan);
        if (plan.ban !== undefined) expect(plan.destroy.length).toBeGreaterThan(0);
        const finished =
          plan.after !== undefined && plan.after !== 'delete' && plan.after.stage === 'finished';
        if (finished) expect(plan.provision).toBeUndefined();
        if (plan.finalize === true) expect(plan.destroy).toEqual(expect.arrayContaining(listed));
      }),
      { numRuns: 2000 },
    );
  });
});
