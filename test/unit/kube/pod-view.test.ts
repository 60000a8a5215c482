import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { toPodView } from '../../../lib/kube/pod-view.ts';

function aV1Pod(
  overrides: { spec?: Partial<NonNullable<V1Pod['spec']>>; status?: V1Pod['status'] } = {},
): V1Pod {
  return {
    metadata: {
      name: 'trainer',
      namespace: 'ml',
      uid: 'u-1',
      annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
      labels: { app: 'train' },
      creationTimestamp: new Date('2026-11-26T17:00:00.000Z'),
    },
    spec: {
      nodeName: 'anex-vastai',
      nodeSelector: { 'node-provider': 'vastai' },
      restartPolicy: 'OnFailure',
      containers: [{ name: 'main', image: 'img:1' }],
      ...overrides.spec,
    },
    ...(overrides.status === undefined ? {} : { status: overrides.status }),
  };
}

describe('toPodView', () => {
  it('maps metadata and spec, times at second precision', () => {
    expect(toPodView(aV1Pod())).toEqual({
      namespace: 'ml',
      name: 'trainer',
      uid: 'u-1',
      nodeName: 'anex-vastai',
      annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
      labels: { app: 'train' },
      nodeSelector: { 'node-provider': 'vastai' },
      restartPolicy: 'OnFailure',
      creationTimestamp: '2026-11-26T17:00:00Z',
      containers: [{ name: 'main', image: 'img:1', env: {} }],
      status: undefined,
    });
  });

  it('separates plain env values from valueFrom entries and reads GPU limits', () => {
    const view = toPodView(
      aV1Pod({
        spec: {
          containers: [
            {
              name: 'main',
              image: 'img:1',
              command: ['python'],
              args: ['train.py'],
              env: [
                { name: 'MODE', value: 'train' },
                { name: 'EMPTY' },
                { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
              ],
              resources: { limits: { 'nvidia.com/gpu': '2' } },
            },
          ],
        },
      }),
    );
    expect(view?.containers[0]).toEqual({
      name: 'main',
      image: 'img:1',
      command: ['python'],
      args: ['train.py'],
      env: { MODE: 'train', EMPTY: '' },
      envSpec: {
        env: [
          { name: 'MODE', value: 'train' },
          { name: 'EMPTY', value: '' },
          { name: 'TOKEN', secretKeyRef: { name: 's', key: 'k' } },
        ],
        envFrom: [],
      },
      resources: { limits: { 'nvidia.com/gpu': '2' } },
      gpuLimit: 2,
    });
  });

  it.each([
    ['Always', undefined],
    ['Never', 'Never'],
  ] as const)('reads restart policy %s (given %s)', (expected, given) => {
    const pod = aV1Pod();
    if (pod.spec !== undefined) {
      if (given === undefined) delete pod.spec.restartPolicy;
      else pod.spec.restartPolicy = given;
    }
    expect(toPodView(pod)?.restartPolicy).toBe(expected);
  });

  it('reads the status back in the shape anex writes it', () => {
    const at = new Date('2026-11-26T18:00:00Z');
    const view = toPodView(
      aV1Pod({
        status: {
          phase: 'Failed',
          reason: 'Error',
          podIP: '10.99.0.7',
          startTime: at,
          conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: at }],
          containerStatuses: [
            {
              name: 'main',
              image: 'img:1',
              imageID: '',
              ready: false,
              restartCount: 1,
              state: { terminated: { exitCode: 3, reason: 'Error', finishedAt: at } },
            },
          ],
        },
      }),
    );
    expect(view?.phase).toBe('Failed');
    expect(view?.status).toEqual({
      phase: 'Failed',
      reason: 'Error',
      podIP: '10.99.0.7',
      startTime: '2026-11-26T18:00:00Z',
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: '2026-11-26T18:00:00Z' }],
      containerStatuses: [
        {
          name: 'main',
          image: 'img:1',
          ready: false,
          restartCount: 1,
          state: { terminated: { exitCode: 3, reason: 'Error', finishedAt: '2026-11-26T18:00:00Z' } },
        },
      ],
    });
  });

  it.each([
    ['none declared', undefined, undefined],
    [
      'TCP ones, protocol absent meaning TCP',
      [{ containerPort: 80 }, { containerPort: 8443, protocol: 'TCP' }],
      [80, 8443],
    ],
    [
      'not UDP or SCTP',
      [
        { containerPort: 53, protocol: 'UDP' },
        { containerPort: 9, protocol: 'SCTP' },
      ],
      undefined,
    ],
    [
      'each once, in order',
      [{ containerPort: 90 }, { containerPort: 80, name: 'http' }, { containerPort: 90 }],
      [90, 80],
    ],
  ])('reads the declared containerPorts: %s', (_what, ports, expected) => {
    const view = toPodView(
      aV1Pod({
        spec: { containers: [{ name: 'main', image: 'img:1', ...(ports === undefined ? {} : { ports }) }] },
      }),
    );
    expect(view?.containers[0]?.ports).toEqual(expected);
  });

  it('ignores an object without name or uid', () => {
    expect(toPodView({ metadata: { name: 'x', namespace: 'y' } })).toBeUndefined();
  });
});
