import { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { PodView } from '../../../lib/kube/cluster.ts';
import { isDaemonSetPod, podAdvisories } from '../../../lib/kube/pod-advisories.ts';
import { toPodView } from '../../../lib/kube/pod-view.ts';

const UNREACHABLE = 'node.kubernetes.io/unreachable';
const NOT_READY = 'node.kubernetes.io/not-ready';
const PERMANENT = [
  { key: NOT_READY, operator: 'Exists', effect: 'NoExecute' },
  { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
];
const DEFAULTED = PERMANENT.map((t) => ({ ...t, tolerationSeconds: 300 }));

type Advised = Pick<PodView, 'tolerations' | 'controllerKind' | 'skippedVolumes'>;

describe('podAdvisories', () => {
  it.each<[string, Advised, { neverRent: boolean; reasons: string[]; message?: RegExp }]>([
    ['permanent tolerations: nothing to say', { tolerations: PERMANENT }, { neverRent: false, reasons: [] }],
    [
      'the 300 s defaults (created before the webhook): a warning, still rented',
      { tolerations: DEFAULTED },
      { neverRent: false, reasons: ['OutageEvictionRisk'], message: /tolerated for 300 s only/ },
    ],
    [
      'no tolerations at all',
      {},
      {
        neverRent: false,
        reasons: ['OutageEvictionRisk'],
        message: /no toleration of node\.kubernetes\.io\/unreachable/,
      },
    ],
    [
      'tolerates everything forever',
      { tolerations: [{ operator: 'Exists' }] },
      { neverRent: false, reasons: [] },
    ],
    [
      "a DaemonSet's pod: never rented, told how to keep the DaemonSet off",
      { controllerKind: 'DaemonSet', tolerations: [{ operator: 'Exists' }] },
      {
        neverRent: true,
        reasons: ['DaemonSetPodNotRun'],
        message: /key: type, operator: NotIn, values: \[virtual-kubelet\]/,
      },
    ],
    [
      "a ReplicaSet's pod is an ordinary pod",
      { controllerKind: 'ReplicaSet', tolerations: PERMANENT },
      { neverRent: false, reasons: [] },
    ],
    [
      'the service-account volume the API server added: said once, not given to the machine',
      { tolerations: PERMANENT, skippedVolumes: ['kube-api-access-x7k2p'] },
      {
        neverRent: false,
        reasons: ['ServiceAccountTokenNotMounted'],
        message:
          /kube-api-access-x7k2p .* is not given to the rented machine.*automountServiceAccountToken: false/,
      },
    ],
  ])('%s', (_what, pod, expected) => {
    const advice = podAdvisories(pod);
    expect(advice.neverRent).toBe(expected.neverRent);
    expect(advice.events.map((e) => e.reason)).toEqual(expected.reasons);
    for (const event of advice.events)
      expect(event.type).toBe(event.reason === 'ServiceAccountTokenNotMounted' ? 'Normal' : 'Warning');
    if (expected.message !== undefined) expect(advice.events[0]?.message).toMatch(expected.message);
  });
});

describe('toPodView: what the advisories read', () => {
  const pod = (ownerReferences: object[], tolerations?: object[]) =>
    Object.assign(new V1Pod(), {
      metadata: { name: 'p', namespace: 'ns', uid: 'u', ownerReferences },
      spec: {
        containers: [{ name: 'main', image: 'x' }],
        ...(tolerations === undefined ? {} : { tolerations }),
      },
    }) as V1Pod;

  it('takes the controlling owner, not just any owner', () => {
    const view = toPodView(
      pod([
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: '1' },
        { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'node-exporter', uid: '2', controller: true },
      ]),
    );
    expect(view?.controllerKind).toBe('DaemonSet');
    expect(isDaemonSetPod(view as PodView)).toBe(true);
    expect(
      toPodView(pod([{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'd', uid: '2' }]))?.controllerKind,
    ).toBe(undefined);
  });

  it('keeps the tolerations as stored, and none when there are none', () => {
    expect(toPodView(pod([], DEFAULTED))?.tolerations).toEqual(DEFAULTED);
    expect(toPodView(pod([]))?.tolerations).toBeUndefined();
  });
});
