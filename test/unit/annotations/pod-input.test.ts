import { describe, expect, it } from 'vitest';
import { requirementsInputFromPod } from '../../../lib/annotations/pod-input.ts';

function aPod(
  options: { annotations?: Record<string, unknown>; limits?: (string | number | undefined)[] } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', annotations: options.annotations ?? { 'anex.sh/region': 'europe' } },
    spec: {
      nodeSelector: { 'node-provider': 'vastai' },
      containers: (options.limits ?? [undefined]).map((gpu, i) => ({
        name: `c${i}`,
        image: 'busybox',
        ...(gpu === undefined ? {} : { resources: { limits: { 'nvidia.com/gpu': gpu, memory: '1Gi' } } }),
      })),
    },
  };
}

describe('requirementsInputFromPod', () => {
  it("reads annotations, nodeSelector and every container's nvidia.com/gpu limit", () => {
    expect(requirementsInputFromPod(aPod({ limits: ['1', undefined, 2] }))).toEqual({
      ok: true,
      input: {
        annotations: { 'anex.sh/region': 'europe' },
        nodeSelector: { 'node-provider': 'vastai' },
        gpuLimits: [1, 2],
      },
    });
  });

  it("sums the containers' cpu and memory requests (cores, MB of 2^20 bytes)", () => {
    const pod = {
      metadata: { name: 'p' },
      spec: {
        containers: [
          { name: 'a', resources: { requests: { cpu: '1500m', memory: '8Gi' } } },
          { name: 'b', resources: { requests: { cpu: 2 } } },
        ],
      },
    };
    expect(requirementsInputFromPod(pod)).toEqual({
      ok: true,
      input: { annotations: {}, resourceRequests: { cpuCores: 3.5, ramMb: 8192 } },
    });
  });

  it("accepts a pod without annotations or containers' limits", () => {
    expect(
      requirementsInputFromPod({ metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] } }),
    ).toEqual({
      ok: true,
      input: { annotations: {} },
    });
  });

  it('reports an unquoted annotation value instead of coercing it', () => {
    expect(requirementsInputFromPod(aPod({ annotations: { 'anex.sh/gpu-count': 2 } }))).toEqual({
      ok: false,
      errors: ['anex.sh/gpu-count: annotation values must be strings; quote it ("2")'],
    });
  });

  it('reports a GPU limit that is not a whole number', () => {
    expect(requirementsInputFromPod(aPod({ limits: ['500m'] }))).toEqual({
      ok: false,
      errors: [
        'spec.containers[0].resources.limits["nvidia.com/gpu"]: "500m" is not a whole number of GPUs (e.g. "1")',
      ],
    });
  });

  it('reports a document that is not a pod', () => {
    const result = requirementsInputFromPod('just a string');
    expect(result.ok).toBe(false);
  });
});
