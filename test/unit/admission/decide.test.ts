import { describe, expect, it } from 'vitest';
import { type AdmissionSettings, decideAdmission } from '../../../lib/admission/decide.ts';
import { parsePodEventMessage } from '../../../lib/admission/pod-event.ts';
import {
  type AdmissionRequest,
  admissionResponse,
  admissionReviewSchema,
} from '../../../lib/admission/review.ts';

const SETTINGS: AdmissionSettings = {
  nodeNames: ['anex-vastai', 'anex-runpod'],
  nodeSelectorKey: 'node-provider',
  nodeSelectorValues: ['vastai', 'runpod'],
};

function aPod(
  options: { annotations?: Record<string, string>; provider?: string; nodeName?: string; uid?: string } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'train',
      namespace: 'ml',
      uid: options.uid ?? 'uid-1',
      annotations: options.annotations ?? {},
    },
    spec: {
      ...(options.provider === undefined ? {} : { nodeSelector: { 'node-provider': options.provider } }),
      ...(options.nodeName === undefined ? {} : { nodeName: options.nodeName }),
      containers: [{ name: 'main', image: 'pytorch/pytorch' }],
    },
  };
}

function aRequest(overrides: Partial<AdmissionRequest>): AdmissionRequest {
  return {
    uid: 'req-1',
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    name: 'train',
    namespace: 'ml',
    ...overrides,
  };
}

const aBinding = (node: string, uid?: string) => ({
  apiVersion: 'v1',
  kind: 'Binding',
  metadata: { name: 'train', namespace: 'ml', ...(uid === undefined ? {} : { uid }) },
  target: { kind: 'Node', name: node },
});

const VALID = { 'anex.sh/vram-min': '20480', 'anex.sh/gpu-names': 'RTX 4090, RTX 3090' };
const INVALID = { 'anex.sh/vram-min': '20GB', 'anex.sh/gpu-nmaes': 'RTX 4090' };

describe('decideAdmission: annotations', () => {
  it('admits an anex pod with valid annotations', () => {
    const decision = decideAdmission(
      aRequest({ object: aPod({ provider: 'vastai', annotations: VALID }) }),
      SETTINGS,
    );
    expect(decision).toEqual({ verdict: { allowed: true, warnings: [] } });
  });

  it('rejects an anex pod with invalid annotations, listing every error', () => {
    const { verdict } = decideAdmission(
      aRequest({ object: aPod({ provider: 'vastai', annotations: INVALID }) }),
      SETTINGS,
    );
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toMatch(/^pod ml\/train: invalid anex annotations \(2\):/);
    expect(verdict.message).toContain(
      'anex.sh/gpu-nmaes: unknown annotation; did you mean anex.sh/gpu-names?',
    );
    expect(verdict.message).toContain('anex.sh/vram-min: "20GB" is not a number of megabytes');
  });

  // vast audit #5: an unknown GPU name is refused here, never searched without a GPU filter.
  it('rejects a GPU name no provider lists, suggesting the closest one', () => {
    const annotations = { ...VALID, 'anex.sh/gpu-names': 'RTX 4090, RTX 3090x' };
    const { verdict } = decideAdmission(
      aRequest({ object: aPod({ provider: 'vastai', annotations }) }),
      SETTINGS,
    );
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toContain(
      'anex.sh/gpu-names: "RTX 3090x" is not a GPU model any provider lists (did you mean "RTX 3090"?)',
    );
  });

  it('admits a GPU name only the other provider lists, with a warning', () => {
    const annotations = { ...VALID, 'anex.sh/gpu-names': 'RTX 4090, MI300X' };
    const { verdict } = decideAdmission(
      aRequest({ object: aPod({ provider: 'vastai', annotations }) }),
      SETTINGS,
    );
    expect(verdict).toEqual({
      allowed: true,
      warnings: [expect.stringContaining('"MI300X" is not a Vast.AI GPU model')],
    });
  });

  it('passes the other provider’s keys as warnings, not errors', () => {
    const annotations = { ...VALID, 'runpod.anex.sh/cloud-type': 'SECURE' };
    const { verdict } = decideAdmission(
      aRequest({ object: aPod({ provider: 'vastai', annotations }) }),
      SETTINGS,
    );
    expect(verdict).toEqual({
      allowed: true,
      warnings: [expect.stringContaining('runpod.anex.sh/cloud-type')],
    });
  });

  it.each([
    ['a pod not selecting an anex node', aPod({ annotations: INVALID })],
    ['a pod selecting another node-provider', aPod({ provider: 'aws', annotations: INVALID })],
    ['something that is not a pod', 'garbage'],
  ])('leaves alone %s', (_what, object) => {
    expect(decideAdmission(aRequest({ object }), SETTINGS)).toEqual({ verdict: { allowed: true } });
  });

  it('rejects an UPDATE that changes anex annotations to invalid ones', () => {
    const request = aRequest({
      operation: 'UPDATE',
      object: aPod({ provider: 'runpod', annotations: INVALID }),
      oldObject: aPod({ provider: 'runpod', annotations: VALID }),
    });
    expect(decideAdmission(request, SETTINGS).verdict.allowed).toBe(false);
  });

  it('admits an UPDATE that leaves (already invalid) anex annotations unchanged', () => {
    const pod = aPod({ provider: 'runpod', annotations: INVALID });
    const request = aRequest({
      operation: 'UPDATE',
      object: { ...pod, metadata: { ...pod.metadata, labels: { a: 'b' } } },
      oldObject: pod,
    });
    expect(decideAdmission(request, SETTINGS)).toEqual({ verdict: { allowed: true } });
  });
});

describe('decideAdmission: what a rented machine cannot honour (issue #14 §6)', () => {
  const withSpec = (extra: Record<string, unknown>, provider = 'vastai') => {
    const pod = aPod({ provider, annotations: VALID });
    return { ...pod, spec: { ...pod.spec, ...extra } };
  };

  it.each([
    [
      'a PVC',
      { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] },
      'spec.volumes[data]: persistentVolumeClaim',
    ],
    ['hostNetwork', { hostNetwork: true }, 'spec.hostNetwork'],
    [
      'two app containers',
      {
        containers: [
          { name: 'a', image: 'x' },
          { name: 'b', image: 'x' },
        ],
      },
      'exactly one app container',
    ],
    ['hostPID', { hostPID: true }, 'spec.hostPID'],
  ])('refuses a pod with %s on CREATE, naming the field', (_what, extra, fragment) => {
    const verdict = decideAdmission(aRequest({ object: withSpec(extra) }), SETTINGS).verdict;
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toContain('pod ml/train: a rented machine cannot honour this pod (1):');
    expect(verdict.message).toContain(fragment);
  });

  it('admits what it can honour: secret, projected and emptyDir volumes', () => {
    const extra = {
      volumes: [
        { name: 'hf', secret: { secretName: 'hf' } },
        { name: 'p', projected: { sources: [{ configMap: { name: 'cfg' } }] } },
        { name: 'scratch', emptyDir: {} },
      ],
    };
    expect(decideAdmission(aRequest({ object: withSpec(extra) }), SETTINGS).verdict.allowed).toBe(true);
  });

  it('leaves a non-anex pod with a PVC alone', () => {
    const pod = aPod({ annotations: VALID });
    const object = {
      ...pod,
      spec: { ...pod.spec, volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'd' } }] },
    };
    expect(decideAdmission(aRequest({ object }), SETTINGS)).toEqual({ verdict: { allowed: true } });
  });

  it.each([
    [
      'for an anex node (node selector)',
      { nodeSelector: { 'node-provider': 'runpod' } },
      'is for the anex runpod node',
    ],
    ['on an anex node (nodeName, no selector)', { nodeName: 'anex-vastai' }, 'is on anex-vastai'],
    [
      'on an anex node and selecting it',
      { nodeName: 'anex-runpod', nodeSelector: { 'node-provider': 'runpod' } },
      'is on anex-runpod',
    ],
  ])('refuses kubectl debug (an ephemeral container) on a pod %s, saying why (K5)', (_what, spec, where) => {
    const object = {
      metadata: { name: 'train', namespace: 'ml' },
      spec: { ...spec, ephemeralContainers: [{ name: 'd' }] },
    };
    const request = aRequest({
      operation: 'UPDATE',
      subResource: 'ephemeralcontainers',
      name: 'train',
      namespace: 'ml',
      object,
    });
    expect(decideAdmission(request, SETTINGS).verdict).toEqual({
      allowed: false,
      message:
        `ephemeral containers (kubectl debug) cannot run on anex nodes: pod ml/train ${where}, a rented machine that runs only ` +
        "the pod's own containers (no container runtime to add one to); use kubectl exec, kubectl logs or kubectl port-forward instead",
    });
  });

  it.each([
    ['on another node', { nodeName: 'worker-1' }],
    ['selecting another node', { nodeSelector: { 'node-provider': 'aws' } }],
    ['not scheduled and selecting nothing', {}],
  ])('lets kubectl debug add an ephemeral container to a pod %s', (_what, spec) => {
    const object = { metadata: { name: 'web' }, spec };
    const request = aRequest({ operation: 'UPDATE', subResource: 'ephemeralcontainers', object });
    expect(decideAdmission(request, SETTINGS)).toEqual({ verdict: { allowed: true } });
  });
});

describe('decideAdmission: per-pod passes', () => {
  it.each([
    ['with the pod UID', 'uid-7', { podUid: 'uid-7', namespace: 'ml', name: 'train', cause: 'bound' }],
    ['without a UID (looked up later)', undefined, { namespace: 'ml', name: 'train', cause: 'bound' }],
  ])('enqueues a pass when a pod is bound to an anex node, %s', (_what, uid, expected) => {
    const request = aRequest({ subResource: 'binding', object: aBinding('anex-runpod', uid) });
    expect(decideAdmission(request, SETTINGS)).toEqual({ verdict: { allowed: true }, enqueue: expected });
  });

  it('enqueues a pass when a pod on an anex node is deleted', () => {
    const request = aRequest({
      operation: 'DELETE',
      oldObject: aPod({ nodeName: 'anex-vastai', uid: 'uid-9' }),
    });
    expect(decideAdmission(request, SETTINGS).enqueue).toEqual({
      podUid: 'uid-9',
      namespace: 'ml',
      name: 'train',
      cause: 'deleted',
    });
  });

  it.each([
    ['a binding to another node', aRequest({ subResource: 'binding', object: aBinding('worker-1', 'u') })],
    [
      'a dry-run binding',
      aRequest({ subResource: 'binding', dryRun: true, object: aBinding('anex-vastai', 'u') }),
    ],
    [
      'a deletion on another node',
      aRequest({ operation: 'DELETE', oldObject: aPod({ nodeName: 'worker-1' }) }),
    ],
    [
      'a dry-run deletion',
      aRequest({ operation: 'DELETE', dryRun: true, oldObject: aPod({ nodeName: 'anex-vastai' }) }),
    ],
    [
      'a status update',
      aRequest({
        operation: 'UPDATE',
        subResource: 'status',
        object: aPod({ provider: 'vastai', annotations: INVALID }),
      }),
    ],
    ['another resource', aRequest({ resource: { group: 'apps', version: 'v1', resource: 'deployments' } })],
  ])('does nothing for %s', (_what, request) => {
    expect(decideAdmission(request, SETTINGS)).toEqual({ verdict: { allowed: true } });
  });
});

describe('AdmissionReview v1', () => {
  it('parses a review and answers with the same uid', () => {
    const review = admissionReviewSchema.parse({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: aRequest({ uid: 'abc', object: aPod() }),
    });
    expect(admissionResponse(review.request.uid, { allowed: true })).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'abc', allowed: true },
    });
  });

  it('carries a refusal as a 422 status and warnings as single lines', () => {
    expect(
      admissionResponse('u', { allowed: false, message: 'bad\n- x', warnings: ['a\n  b'] }),
    ).toMatchObject({
      response: {
        allowed: false,
        status: { code: 422, reason: 'Invalid', message: 'bad\n- x' },
        warnings: ['a b'],
      },
    });
  });

  it.each([
    [{ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: aRequest({}) }],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...aRequest({}), uid: '' } }],
  ])('rejects a malformed review %#', (body) => {
    expect(admissionReviewSchema.safeParse(body).success).toBe(false);
  });
});

describe('parsePodEventMessage', () => {
  it.each([
    ['{"namespace":"ml","name":"train","cause":"bound"}', true],
    ['{"podUid":"u","namespace":"ml","name":"train","cause":"deleted"}', true],
    ['{"namespace":"ml","cause":"bound"}', false],
    ['not json', false],
  ])('%s → ok %s', (body, ok) => {
    expect(parsePodEventMessage(body).ok).toBe(ok);
  });
});
