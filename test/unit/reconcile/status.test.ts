import { describe, expect, it } from 'vitest';
import type { PodView } from '../../../lib/kube/cluster.ts';
import { buildStatus, iso, PROVISIONED, sameStatus } from '../../../lib/reconcile/status.ts';
import type { Situation } from '../../../lib/reconcile/types.ts';
import { T0 } from './harness.ts';

const pod: PodView = {
  namespace: 'd',
  name: 'p',
  uid: 'u',
  annotations: {},
  labels: {},
  nodeSelector: {},
  containers: [{ name: 'main', image: 'img:1', env: {} }],
  restartPolicy: 'Never',
  status: undefined,
};

describe('status', () => {
  it.each<{
    situation: Situation;
    phase: string;
    waiting?: string;
    terminated?: string;
    provisioned: string;
  }>([
    {
      situation: { kind: 'invalid', issues: ['anex.sh/x: bad'] },
      phase: 'Pending',
      waiting: 'InvalidAnnotations',
      provisioned: 'False',
    },
    {
      situation: { kind: 'no-match', summary: '0 offers' },
      phase: 'Pending',
      waiting: 'NoMatchingOffers',
      provisioned: 'False',
    },
    {
      situation: { kind: 'provisioning', message: 'renting' },
      phase: 'Pending',
      waiting: 'Provisioning',
      provisioned: 'False',
    },
    {
      situation: { kind: 'starting', message: 'booting' },
      phase: 'Pending',
      waiting: 'ContainerCreating',
      provisioned: 'True',
    },
    { situation: { kind: 'running', startedAt: T0 }, phase: 'Running', provisioned: 'True' },
    {
      situation: { kind: 'terminated', exitCode: 0, finishedAt: T0 },
      phase: 'Succeeded',
      provisioned: 'False',
    },
    { situation: { kind: 'terminated', exitCode: 1, finishedAt: T0 }, phase: 'Failed', provisioned: 'False' },
    {
      situation: { kind: 'failed', reason: 'ImagePullError', message: 'x' },
      phase: 'Failed',
      // kubelet: a terminal pod's container that never ran is terminated, ContainerStatusUnknown
      terminated: 'ContainerStatusUnknown',
      provisioned: 'False',
    },
  ])('$situation.kind → $phase', ({ situation, phase, waiting, terminated, provisioned }) => {
    const status = buildStatus({ pod, situation, now: T0 });
    expect(status.phase).toBe(phase);
    expect(status.conditions.find((c) => c.type === PROVISIONED)?.status).toBe(provisioned);
    const state = status.containerStatuses[0]?.state;
    if (waiting !== undefined)
      expect(state).toEqual(
        expect.objectContaining({ waiting: expect.objectContaining({ reason: waiting }) }),
      );
    else expect(state && 'waiting' in state).toBe(false);
    if (terminated !== undefined)
      expect(state).toEqual({ terminated: expect.objectContaining({ reason: terminated, exitCode: 137 }) });
  });

  it('is stable: rebuilt later from the same facts it equals what is stored (to the second)', () => {
    const first = buildStatus({
      pod,
      situation: { kind: 'running', startedAt: T0 + 1234 },
      now: T0 + 1234,
      podIP: '10.0.0.2',
    });
    const later = buildStatus({
      pod: { ...pod, status: first },
      situation: { kind: 'running', startedAt: T0 + 1234 },
      now: T0 + 99_999,
      podIP: '10.0.0.2',
    });
    expect(sameStatus(first, later)).toBe(true);
    expect(iso(T0 + 1234)).toBe('2026-03-01T12:00:01Z');
  });

  it('sees a change of message or podIP, and ignores conditions others own', () => {
    const stored = buildStatus({ pod, situation: { kind: 'provisioning', message: 'a' }, now: T0 });
    const withScheduler = {
      ...stored,
      conditions: [...stored.conditions, { type: 'PodScheduled', status: 'True' as const }],
    };
    const current = { ...pod, status: withScheduler };
    expect(
      sameStatus(
        withScheduler,
        buildStatus({ pod: current, situation: { kind: 'provisioning', message: 'a' }, now: T0 }),
      ),
    ).toBe(true);
    expect(
      sameStatus(
        withScheduler,
        buildStatus({ pod: current, situation: { kind: 'provisioning', message: 'b' }, now: T0 }),
      ),
    ).toBe(false);
    expect(
      sameStatus(
        withScheduler,
        buildStatus({
          pod: current,
          situation: { kind: 'provisioning', message: 'a' },
          now: T0,
          podIP: '10.0.0.9',
        }),
      ),
    ).toBe(false);
  });
});
