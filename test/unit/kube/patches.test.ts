import type { V1Taint } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubeTime, microTime, readTime } from '../../../lib/kube/kube-time.ts';
import { mergeStatus } from '../../../lib/kube/merge-status.ts';
import { eventMessage, eventName, podStatusPatch } from '../../../lib/kube/pod-status-patch.ts';
import {
  KUBELET_VERSION,
  kubeletVersionFor,
  labelsDiffer,
  newNode,
  nodeStatusPatch,
  nodeTaints,
  virtualNodeSpec,
} from '../../../lib/kube/virtual-node.ts';
import { aRunningStatus, aWaitingStatus } from './cluster-contract.ts';

const pod = { namespace: 'ml', name: 'trainer', uid: 'u-1' };

describe('podStatusPatch', () => {
  it('guards the uid and clears what the update leaves out', () => {
    const patch = podStatusPatch(pod, aRunningStatus()) as {
      metadata: unknown;
      status: Record<string, unknown>;
    };
    expect(patch.metadata).toEqual({ uid: 'u-1' });
    expect(patch.status).toMatchObject({
      phase: 'Running',
      reason: null,
      message: null,
      podIP: '10.99.0.7',
      podIPs: [{ ip: '10.99.0.7' }, { $patch: 'replace' }],
    });
    expect((patch.status.containerStatuses as { state: unknown }[])[0]?.state).toEqual({
      waiting: null,
      running: { startedAt: '2026-11-26T18:00:00Z' },
      terminated: null,
    });
  });

  it('leaves IPs and start time alone when the update has none', () => {
    const patch = podStatusPatch(pod, aWaitingStatus()) as { status: Record<string, unknown> };
    expect(Object.keys(patch.status)).not.toEqual(expect.arrayContaining(['podIP', 'hostIP', 'startTime']));
  });
});

describe('eventName', () => {
  it.each([
    ['the same pod, reason and message', pod, 'm', true],
    ['another message', pod, 'm2', false],
    ['a new pod with the same name', { ...pod, uid: 'u-2' }, 'm', false],
  ])('is deterministic: %s → same name = %s', (_, other, message, same) => {
    const a = eventName(pod, { type: 'Normal', reason: 'Started', message: 'm' });
    const b = eventName(other, { type: 'Warning', reason: 'Started', message });
    expect(a === b).toBe(same);
  });

  it('stays within 253 characters for the longest pod name', () => {
    const name = eventName(
      { ...pod, name: 'p'.repeat(253) },
      { type: 'Normal', reason: 'Started', message: '' },
    );
    expect(name.length).toBe(253);
  });

  it('cuts a long message to the limit', () => {
    expect(eventMessage('x'.repeat(5000))).toHaveLength(1024);
  });
});

describe('mergeStatus', () => {
  it('merges conditions by type and containers by name, replacing scalars', () => {
    const scheduled = {
      type: 'PodScheduled',
      status: 'True' as const,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    const current = { ...aWaitingStatus(), conditions: [scheduled, ...aWaitingStatus().conditions] };
    const merged = mergeStatus(current, aRunningStatus());
    expect(merged.conditions.map((c) => `${c.type}=${c.status}`)).toEqual([
      'PodScheduled=True',
      'anex.sh/Provisioned=True',
      'Ready=True',
    ]);
    expect(merged.containerStatuses).toEqual(aRunningStatus().containerStatuses);
    expect(merged.reason).toBeUndefined();
  });
});

describe('virtual node', () => {
  const spec = virtualNodeSpec('runpod', 'anex-runpod');

  it('keeps taints it does not own and adds its own once', () => {
    const existing: V1Taint[] = [
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
      { key: 'virtual-kubelet.io/provider', value: 'old', effect: 'NoSchedule' },
    ];
    expect(nodeTaints(spec, existing)).toEqual([
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
      { key: 'virtual-kubelet.io/provider', value: 'runpod', effect: 'NoSchedule' },
      {
        key: 'ignore-taint.cluster-autoscaler.kubernetes.io/manual-ignore',
        value: 'true',
        effect: 'NoSchedule',
      },
    ]);
  });

  it('keeps a condition transition time while its status holds', () => {
    const since = new Date('2026-01-01T00:00:00Z');
    const existing = [
      { type: 'Ready', status: 'True', lastTransitionTime: since },
      { type: 'DiskPressure', status: 'True', lastTransitionTime: since },
    ];
    const now = Date.parse('2026-11-26T18:00:00.700Z');
    const conditions = nodeStatusPatch(spec, { now, existing }).status.conditions;
    expect(conditions.find((c) => c.type === 'Ready')).toMatchObject({
      lastTransitionTime: '2026-01-01T00:00:00Z',
      lastHeartbeatTime: '2026-11-26T18:00:00Z',
    });
    expect(conditions.find((c) => c.type === 'DiskPressure')?.lastTransitionTime).toBe(
      '2026-11-26T18:00:00Z',
    );
  });
});

describe('node hygiene (issue #13 item 6)', () => {
  const spec = virtualNodeSpec('vastai', 'anex-vastai');

  it('labels the node out of external load balancers, also a node registered before the label', () => {
    const label = 'node.kubernetes.io/exclude-from-external-load-balancers';
    expect(newNode(spec).metadata?.labels?.[label]).toBe('true');
    const registeredBefore = newNode(spec);
    delete registeredBefore.metadata?.labels?.[label];
    expect(labelsDiffer(registeredBefore, spec)).toBe(true);
    expect(labelsDiffer(newNode(spec), spec)).toBe(false);
  });

  it.each<[string | undefined, string]>([
    ['v1.33.13', 'v1.33.0-anex'],
    ['v1.30.4-eks-a737599', 'v1.30.0-anex'],
    ['v1.31.5-gke.1014001', 'v1.31.0-anex'],
    ['v1.36.0', 'v1.36.0-anex'],
    ['v1.34.0-rc.1', 'v1.34.0-anex'],
    ['v1.29.3+k3s1', 'v1.29.0-anex'],
    ['v2.0', 'v2.0.0-anex'],
    ['', KUBELET_VERSION],
    [undefined, KUBELET_VERSION],
    ['unknown', KUBELET_VERSION],
  ])('API server %s → kubeletVersion %s (never newer)', (server, kubelet) => {
    expect(kubeletVersionFor(server)).toBe(kubelet);
  });

  it('reports the version it is given in nodeInfo', () => {
    const patch = nodeStatusPatch(spec, { now: 0, existing: undefined, kubeletVersion: 'v1.30.0-anex' });
    expect(patch.status.nodeInfo.kubeletVersion).toBe('v1.30.0-anex');
    expect(nodeStatusPatch(spec, { now: 0, existing: undefined }).status.nodeInfo.kubeletVersion).toBe(
      KUBELET_VERSION,
    );
  });
});

describe('Kubernetes times', () => {
  it.each([
    [kubeTime(Date.parse('2026-11-26T18:00:00.999Z')), '2026-11-26T18:00:00Z'],
    [microTime(Date.parse('2026-11-26T18:00:00.123Z')), '2026-11-26T18:00:00.123000Z'],
    [readTime(new Date('2026-11-26T18:00:00.5Z')), '2026-11-26T18:00:00Z'],
    [readTime('2026-11-26T18:00:00.123456Z'), '2026-11-26T18:00:00Z'],
    [readTime('garbage'), undefined],
  ])('formats %j', (actual, expected) => {
    expect(actual).toBe(expected);
  });
});
