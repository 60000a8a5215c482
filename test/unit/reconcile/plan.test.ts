import { describe, expect, it } from 'vitest';
import type { PodView } from '../../../lib/kube/cluster.ts';
import { OUTAGE_TAINT_KEYS } from '../../../lib/kube/outage-tolerations.ts';
import type { Instance, InstanceState } from '../../../lib/providers/provider.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../../../lib/reconcile/config.ts';
import { offersWanted, plan, planPod } from '../../../lib/reconcile/plan.ts';
import { planEnv } from '../../../lib/reconcile/plan-env.ts';
import { requirementsKey } from '../../../lib/reconcile/rules.ts';
import { defaultRules } from '../../../lib/reconcile/rules-default.ts';
import { UNKNOWN_EXIT } from '../../../lib/reconcile/status.ts';
import type { Observed, ObservedPod } from '../../../lib/reconcile/types.ts';
import type { PodRecord } from '../../../lib/state/store.ts';
import { anOffer, MINUTE, T0, uid } from './harness.ts';

const config = { ...DEFAULT_RECONCILE_CONFIG, clusterId: 'test' };
const options = { config, rules: defaultRules };
const offers = [
  anOffer({ machineId: 'm-a', pricePerHour: 0.3 }),
  anOffer({ machineId: 'm-b', pricePerHour: 0.6 }),
];

function aView(overrides: Partial<PodView> = {}): PodView {
  return {
    namespace: 'ml',
    name: 'train',
    uid: uid(1),
    nodeName: 'anex-vastai',
    annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
    labels: {},
    nodeSelector: { 'node-provider': 'vastai' },
    containers: [{ name: 'main', image: 'img:1', env: {} }],
    restartPolicy: 'Never',
    status: undefined,
    // what the anex mutating webhook leaves on every new anex pod (ADR 0012)
    tolerations: OUTAGE_TAINT_KEYS.map((key) => ({ key, operator: 'Exists', effect: 'NoExecute' })),
    ...overrides,
  };
}

function aRecord(overrides: Partial<PodRecord> = {}): PodRecord {
  return {
    podUid: uid(1),
    namespace: 'ml',
    name: 'train',
    provider: 'vastai',
    stage: 'starting',
    attempts: 1,
    instance: { id: 'i-1', machineId: 'm-a', createdAt: T0 },
    version: 3,
    updatedAt: T0,
    ...overrides,
  };
}

function anInstance(state: InstanceState, id = 'i-1'): Instance {
  return {
    id,
    provider: 'vastai',
    tag: { clusterId: 'test', podUid: uid(1) },
    state,
    machineId: 'm-a',
    createdAt: T0,
  };
}

/** Observes one pod at `now`, with the offers listed for its requirements. */
function observe(
  pod: { view?: PodView; record?: PodRecord; instances?: Instance[] | undefined },
  now: number,
): Observed {
  const view = pod.view ?? aView();
  const op: ObservedPod = {
    view,
    provider: 'vastai',
    record: pod.record,
    instances: 'instances' in pod ? pod.instances : [],
    requirements: defaultRules.requirements(view, 'vastai'),
  };
  const listed = new Map();
  if (op.requirements.ok) listed.set(requirementsKey(op.requirements.requirements), { ok: true, offers });
  return {
    now,
    pods: [op],
    orphanRecords: [],
    orphanInstances: [],
    bans: { vastai: [] },
    offers: listed,
    providersDown: [],
  };
}

function decide(pod: Parameters<typeof observe>[0], now = T0) {
  const observed = observe(pod, now);
  return planPod(observed.pods[0] as ObservedPod, planEnv(observed, options));
}

describe('plan (pure)', () => {
  it.each([
    { case: 'new pod with a match', pod: {}, label: 'provision', stage: undefined, destroy: [] },
    {
      case: 'instance running',
      pod: { record: aRecord(), instances: [anInstance({ phase: 'running' })] },
      label: 'started',
      stage: 'running',
      destroy: [],
    },
    {
      case: 'still starting, within timeout',
      pod: { record: aRecord(), instances: [anInstance({ phase: 'starting' })] },
      now: T0 + 5 * MINUTE,
      label: 'wait',
      stage: undefined,
      destroy: [],
    },
    {
      case: 'start timeout',
      pod: { record: aRecord(), instances: [anInstance({ phase: 'starting' })] },
      now: T0 + 11 * MINUTE,
      label: 'provision',
      stage: 'pending',
      destroy: ['i-1'],
      ban: 'm-a',
    },
    {
      case: 'host fault',
      pod: { record: aRecord(), instances: [anInstance({ phase: 'failed', fault: 'host', reason: 'runc' })] },
      label: 'provision',
      stage: 'pending',
      destroy: ['i-1'],
      ban: 'm-a',
    },
    {
      case: 'image fault',
      pod: {
        record: aRecord(),
        instances: [anInstance({ phase: 'failed', fault: 'image', reason: 'manifest unknown' })],
      },
      label: 'finish',
      stage: 'finished',
      destroy: ['i-1'],
    },
    {
      case: 'capacity fault',
      pod: {
        record: aRecord(),
        instances: [anInstance({ phase: 'failed', fault: 'capacity', reason: 'queued' })],
      },
      label: 'provision',
      stage: 'pending',
      destroy: ['i-1'],
      attempts: 0,
    },
    {
      case: 'instance vanished before start (past read lag)',
      pod: { record: aRecord(), instances: [] },
      now: T0 + 3 * MINUTE,
      label: 'provision',
      stage: 'pending',
      destroy: ['i-1'],
    },
    {
      case: 'instance not listed yet (read lag)',
      pod: { record: aRecord(), instances: [] },
      now: T0 + 30_000,
      label: 'wait',
      stage: undefined,
      destroy: [],
    },
    {
      case: 'running, exited 0, Never',
      pod: {
        record: aRecord({ stage: 'running', startedAt: T0 }),
        instances: [anInstance({ phase: 'exited', exitCode: 0 })],
      },
      label: 'finish',
      stage: 'finished',
      destroy: ['i-1'],
    },
    // vast audit #7: `exited` is also a normal end; a ban needs evidence of a host fault.
    {
      case: 'agent launch, exited before any agent contact (never booted): ban',
      pod: { record: aRecord({ launch: 'agent' }), instances: [anInstance({ phase: 'exited' })] },
      label: 'provision',
      stage: 'pending',
      destroy: ['i-1'],
      ban: 'm-a',
    },
    {
      case: 'agent launch, exited after the agent bootstrapped but before it started the workload: no ban',
      pod: {
        record: aRecord({
          launch: 'agent',
          statusCredentialHash: 'ab'.repeat(32),
          lastError: 'The agent failed: exec: "python": executable file not found in $PATH',
        }),
        instances: [anInstance({ phase: 'exited' })],
      },
      label: 'provision',
      stage: 'pending',
      destroy: ['i-1'],
    },
    {
      case: 'agent launch, the agent reported started, exited without an exit report: finished, no ban',
      pod: {
        record: aRecord({
          launch: 'agent',
          stage: 'running',
          startedAt: T0,
          statusCredentialHash: 'ab'.repeat(32),
        }),
        instances: [anInstance({ phase: 'exited' })],
      },
      label: 'finish',
      stage: 'finished',
      destroy: ['i-1'],
    },
    {
      case: 'agent launch, exit report 3 recorded, instance exited: finished, no ban',
      pod: {
        record: aRecord({ launch: 'agent', stage: 'running', startedAt: T0, exitCode: 3 }),
        instances: [anInstance({ phase: 'exited' })],
      },
      label: 'finish',
      stage: 'finished',
      destroy: ['i-1'],
    },
    {
      case: 'running, instance gone, Never',
      pod: { record: aRecord({ stage: 'running', startedAt: T0 }), instances: [] },
      label: 'finish',
      stage: 'finished',
      destroy: ['i-1'],
    },
    {
      case: 'duplicate instance while running',
      pod: {
        record: aRecord({ stage: 'running', startedAt: T0 }),
        instances: [anInstance({ phase: 'running' }), anInstance({ phase: 'running' }, 'i-9')],
      },
      label: 'report',
      stage: undefined,
      destroy: ['i-9'],
    },
    {
      case: 'tagged instance without record: adopt',
      pod: { instances: [anInstance({ phase: 'starting' })] },
      label: 'adopt',
      stage: 'starting',
      destroy: [],
    },
    {
      case: 'creating, instance appeared: adopt',
      pod: {
        record: aRecord({ stage: 'creating', intent: { attempt: 1, offerId: '1', at: T0 } }),
        instances: [anInstance({ phase: 'starting' })],
      },
      label: 'adopt',
      stage: 'starting',
      destroy: [],
    },
    {
      case: 'creating, within read lag',
      pod: { record: aRecord({ stage: 'creating', intent: { attempt: 1, offerId: '1', at: T0 } }) },
      label: 'wait',
      stage: undefined,
      destroy: [],
    },
    {
      case: 'provider down',
      pod: { record: aRecord(), instances: undefined },
      label: 'wait',
      stage: undefined,
      destroy: [],
    },
    {
      case: 'releasing left by a crash',
      pod: {
        record: aRecord({ stage: 'releasing' }),
        instances: [anInstance({ phase: 'failed', fault: 'host', reason: 'x' })],
      },
      label: 'provision',
      stage: 'pending',
      destroy: ['i-1'],
    },
    {
      case: 'deletion with instance',
      pod: {
        view: aView({ deletionTimestamp: '2026-03-01T12:00:00Z' }),
        record: aRecord(),
        instances: [anInstance({ phase: 'running' })],
      },
      label: 'terminate',
      stage: undefined,
      destroy: ['i-1'],
    },
  ])(
    '$case → $label',
    ({
      pod,
      now,
      label,
      stage,
      destroy,
      ban,
      attempts,
    }: {
      pod: Parameters<typeof observe>[0];
      now?: number;
      label: string;
      stage: string | undefined;
      destroy: string[];
      ban?: string;
      attempts?: number;
    }) => {
      const p = decide(pod, now ?? T0);
      expect(p.label).toBe(label);
      expect(p.destroy).toEqual(destroy);
      expect(p.ban?.machineId).toBe(ban);
      const after = p.after === 'delete' ? undefined : p.after;
      expect(after?.stage).toBe(stage);
      if (attempts !== undefined) expect(after?.attempts).toBe(attempts);
      // The machine that just failed is never among the next candidates.
      if (p.provision && destroy.length > 0)
        expect(p.provision.candidates.map((o) => o.machineId)).not.toContain('m-a');
    },
  );

  it('asks for offers only for pods that need a machine, once per requirement set', () => {
    const observed = observe({}, T0);
    const twin = { ...(observed.pods[0] as ObservedPod), view: aView({ uid: uid(2), name: 'twin' }) };
    const settled = {
      ...(observed.pods[0] as ObservedPod),
      view: aView({ uid: uid(3) }),
      record: aRecord({ podUid: uid(3), stage: 'running' }),
      instances: [],
    };
    const wanted = offersWanted(
      { ...observed, pods: [...observed.pods, twin, settled], offers: new Map() },
      options,
    );
    expect(wanted).toHaveLength(1);
  });

  it('reports invalid annotations without asking for offers, with one event per new message', () => {
    const view = aView({ annotations: { 'anex.sh/vram-min': 'lots' } });
    const first = decide({ view });
    expect(first.situation).toMatchObject({ kind: 'invalid' });
    expect(first.events.map((e) => e.reason)).toEqual(['InvalidAnnotations']);
    expect(offersWanted(observe({ view }, T0), options)).toEqual([]);
  });

  it('collects an orphan instance only after the grace period', () => {
    const orphan = { ...anInstance({ phase: 'running' }, 'i-7'), tag: { clusterId: 'test', podUid: uid(9) } };
    const base = { ...observe({}, T0), pods: [] };
    expect(plan({ ...base, orphanInstances: [orphan], now: T0 + 1 * MINUTE }, options)).toEqual([]);
    expect(
      plan({ ...base, orphanInstances: [orphan], now: T0 + 11 * MINUTE }, options).map((p) => p.destroy),
    ).toEqual([['i-7']]);
  });

  it("finishes with the agent's exit code, and an unknown one without a report — never a ban (vast audit #7)", () => {
    const running = { launch: 'agent', stage: 'running', startedAt: T0 } as const;
    const reported = decide({
      record: aRecord({ ...running, exitCode: 3 }),
      instances: [anInstance({ phase: 'exited' })],
    });
    const silent = decide({ record: aRecord(running), instances: [anInstance({ phase: 'exited' })] });
    const written = (p: ReturnType<typeof decide>) => (p.after === 'delete' ? undefined : p.after);
    expect(written(reported)?.exitCode).toBe(3);
    expect(written(silent)?.exitCode).toBe(UNKNOWN_EXIT.code);
    expect([reported.ban, silent.ban]).toEqual([undefined, undefined]);
  });

  it("forgets the last attempt's agent credential when it rents again (its bootstrap proved nothing about the next machine)", () => {
    const p = decide({
      record: aRecord({ launch: 'agent', statusCredentialHash: 'ab'.repeat(32) }),
      instances: [anInstance({ phase: 'failed', fault: 'host', reason: 'runc' })],
    });
    expect(p.label).toBe('provision');
    expect(p.after === 'delete' ? 'delete' : p.after?.statusCredentialHash).toBeUndefined();
  });

  it('gives up with ProvisioningFailed once attempts are used up', () => {
    const p = decide({
      record: aRecord({ attempts: config.maxAttempts }),
      instances: [anInstance({ phase: 'failed', fault: 'host', reason: 'x' })],
    });
    expect(p.after).toMatchObject({ stage: 'finished', failureReason: 'ProvisioningFailed' });
    expect(p.situation).toMatchObject({ kind: 'failed', reason: 'ProvisioningFailed' });
    expect(p.provision).toBeUndefined();
  });
});

describe('plan: the price actually billed', () => {
  const billed = (price: number, phase: InstanceState = { phase: 'running' }) => ({
    ...anInstance(phase),
    pricePerHour: price,
  });

  it.each([
    {
      case: 'shows the billed rate on the pod and in the record when the container starts',
      pod: { record: aRecord(), instances: [billed(0.5)] },
      annotate: { 'anex.sh/billed-price': '0.5000' },
      recordedPrice: 0.5,
    },
    {
      case: 'shows it while the machine is still starting',
      pod: { record: aRecord(), instances: [billed(0.25, { phase: 'starting' })] },
      annotate: { 'anex.sh/billed-price': '0.2500' },
      recordedPrice: 0.25,
    },
    {
      case: 'writes nothing once the pod and the record show it',
      pod: {
        view: aView({ annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/billed-price': '0.5000' } }),
        record: aRecord({
          stage: 'running',
          startedAt: T0,
          instance: { id: 'i-1', machineId: 'm-a', createdAt: T0, pricePerHour: 0.5 },
        }),
        instances: [billed(0.5)],
      },
      annotate: undefined,
      recordedPrice: undefined,
    },
  ])('$case', ({ pod, annotate, recordedPrice }) => {
    const decided = decide(pod);
    expect(decided.annotate).toEqual(annotate);
    const after = decided.after === 'delete' ? undefined : decided.after;
    expect(after?.instance?.pricePerHour).toBe(recordedPrice);
  });

  it('destroys an instance billed above price-max, bans its machine and says so', () => {
    const view = aView({ annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/price-max': '0.40' } });
    const decided = decide({ view, record: aRecord(), instances: [billed(0.5, { phase: 'starting' })] });
    expect(decided.destroy).toEqual(['i-1']);
    expect(decided.ban?.machineId).toBe('m-a');
    expect(decided.events.map((e) => `${e.reason}: ${e.message}`)).toContain(
      'PriceAboveMax: Instance i-1 bills $0.5000/h, above anex.sh/price-max $0.4000/h; it is destroyed and the next offer is tried',
    );
  });

  it('keeps an instance billed at price-max (rounding slack of a hundredth of a cent)', () => {
    const view = aView({ annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/price-max': '0.50' } });
    const decided = decide({ view, record: aRecord(), instances: [billed(0.50005)] });
    expect(decided.destroy).toEqual([]);
    expect(decided.label).toBe('started');
  });
});
