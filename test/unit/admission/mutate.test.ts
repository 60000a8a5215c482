import { describe, expect, it } from 'vitest';
import type { AdmissionSettings } from '../../../lib/admission/decide.ts';
import { decideMutation } from '../../../lib/admission/mutate.ts';
import { type AdmissionRequest, admissionResponse } from '../../../lib/admission/review.ts';

const SETTINGS: AdmissionSettings = {
  nodeNames: ['anex-vastai', 'anex-runpod'],
  nodeSelectorKey: 'node-provider',
  nodeSelectorValues: ['vastai', 'runpod'],
};
const UNREACHABLE = 'node.kubernetes.io/unreachable';
const NOT_READY = 'node.kubernetes.io/not-ready';
const DEFAULTS = [
  { key: NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];
const PERMANENT = [
  { key: NOT_READY, operator: 'Exists', effect: 'NoExecute' },
  { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
];

function aPod(spec: Record<string, unknown>) {
  return {
    metadata: { name: 'train', namespace: 'ml' },
    spec: { containers: [{ name: 'main', image: 'x' }], ...spec },
  };
}

function aRequest(overrides: Partial<AdmissionRequest>): AdmissionRequest {
  return {
    uid: 'req-1',
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    namespace: 'ml',
    ...overrides,
  };
}

const vast = { nodeSelector: { 'node-provider': 'vastai' } };

describe('decideMutation', () => {
  it.each<[string, Partial<AdmissionRequest>, unknown]>([
    [
      'an anex pod with the defaulted 300 s tolerations: replaced by permanent ones',
      { object: aPod({ ...vast, tolerations: DEFAULTS }) },
      [{ op: 'replace', path: '/spec/tolerations', value: PERMANENT }],
    ],
    [
      'an anex pod without tolerations (DefaultTolerationSeconds disabled): added',
      { object: aPod(vast) },
      [{ op: 'add', path: '/spec/tolerations', value: [PERMANENT[1], PERMANENT[0]] }],
    ],
    ['an anex pod already right: no patch', { object: aPod({ ...vast, tolerations: PERMANENT }) }, undefined],
    ['an ordinary pod: untouched', { object: aPod({ tolerations: DEFAULTS }) }, undefined],
    [
      'a pod selecting another node-provider: untouched',
      { object: aPod({ nodeSelector: { 'node-provider': 'aws' }, tolerations: DEFAULTS }) },
      undefined,
    ],
    [
      'an UPDATE of an anex pod: untouched',
      { operation: 'UPDATE', object: aPod({ ...vast, tolerations: DEFAULTS }) },
      undefined,
    ],
    [
      'a binding: untouched',
      { subResource: 'binding', object: { target: { name: 'anex-vastai' } } },
      undefined,
    ],
    [
      'another resource: untouched',
      { resource: { group: 'apps', version: 'v1', resource: 'deployments' }, object: aPod(vast) },
      undefined,
    ],
  ])('%s', (_what, overrides, patch) => {
    const decision = decideMutation(aRequest(overrides), SETTINGS);
    expect(decision.verdict.allowed).toBe(true);
    expect(decision.patch).toEqual(patch);
  });

  it("warns about the user's own tolerationSeconds it dropped, and a wildcard it could not fix", () => {
    const decision = decideMutation(
      aRequest({
        object: aPod({
          ...vast,
          tolerations: [
            { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 900 },
            { operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 },
          ],
        }),
      }),
      SETTINGS,
    );
    expect(decision.verdict.warnings).toEqual([
      expect.stringMatching(
        /node\.kubernetes\.io\/unreachable Exists NoExecute tolerationSeconds 900 permanent/,
      ),
      expect.stringMatching(/longer than 60 s evicts the pod/),
    ]);
  });
});

describe('admissionResponse with a patch', () => {
  it('carries the JSONPatch base64-encoded, with patchType', () => {
    const patch = [{ op: 'replace' as const, path: '/spec/tolerations', value: PERMANENT }];
    const response = admissionResponse('req-1', { allowed: true }, patch).response as Record<string, string>;
    expect(response.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8'))).toEqual(patch);
  });

  it('has neither without one', () => {
    expect(admissionResponse('req-1', { allowed: true }, []).response).toEqual({
      uid: 'req-1',
      allowed: true,
    });
  });
});
