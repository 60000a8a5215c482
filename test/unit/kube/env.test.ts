import type { V1Container } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  type EnvFromSpec,
  type EnvVarSpec,
  envSpecOf,
  expand,
  type PodFields,
  quantity,
  resolveEnv,
  type SourceReader,
} from '../../../lib/kube/env.ts';

// The environment as kubelet builds it (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables,
// third_party/forked/golang/expansion): envFrom first, then env in order; $(VAR) expansion;
// optional references; kubelet's error words.

const FIELDS: PodFields = {
  name: 'train-1',
  namespace: 'ml',
  uid: '6f1c2d3e-0000-4000-8000-000000000001',
  labels: { app: 'trainer' },
  annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
  nodeName: 'anex-vastai',
  serviceAccountName: 'default',
  podIP: '10.99.0.7',
};

const SOURCES: Record<string, Record<string, string>> = {
  'Secret/hf': { token: 'hf_secret_value', other: 'x' },
  'ConfigMap/settings': { MODE: 'train', LEVEL: '3' },
};

const read: SourceReader = async (kind, name) => SOURCES[`${kind}/${name}`];

function spec(env: EnvVarSpec[], envFrom: EnvFromSpec[] = []) {
  return { env, envFrom };
}

describe('resolveEnv', () => {
  it.each<{ name: string; env: EnvVarSpec[]; envFrom?: EnvFromSpec[]; want: Record<string, string> }>([
    {
      name: 'secretKeyRef and configMapKeyRef',
      env: [
        { name: 'TOKEN', secretKeyRef: { name: 'hf', key: 'token' } },
        { name: 'MODE', configMapKeyRef: { name: 'settings', key: 'MODE' } },
      ],
      want: { TOKEN: 'hf_secret_value', MODE: 'train' },
    },
    {
      name: 'envFrom with a prefix, then env over it',
      envFrom: [{ prefix: 'CFG_', source: { kind: 'ConfigMap', name: 'settings' } }],
      env: [{ name: 'CFG_MODE', value: 'eval' }],
      want: { CFG_MODE: 'eval', CFG_LEVEL: '3' },
    },
    {
      name: 'fieldRefs',
      env: [
        { name: 'POD_NAME', fieldRef: { fieldPath: 'metadata.name' } },
        { name: 'NS', fieldRef: { fieldPath: 'metadata.namespace' } },
        { name: 'UID', fieldRef: { fieldPath: 'metadata.uid' } },
        { name: 'APP', fieldRef: { fieldPath: "metadata.labels['app']" } },
        { name: 'GPUS', fieldRef: { fieldPath: "metadata.annotations['anex.sh/gpu-names']" } },
        { name: 'NODE', fieldRef: { fieldPath: 'spec.nodeName' } },
        { name: 'SA', fieldRef: { fieldPath: 'spec.serviceAccountName' } },
        { name: 'IP', fieldRef: { fieldPath: 'status.podIP' } },
      ],
      want: {
        POD_NAME: 'train-1',
        NS: 'ml',
        UID: FIELDS.uid,
        APP: 'trainer',
        GPUS: 'RTX 4090',
        NODE: 'anex-vastai',
        SA: 'default',
        IP: '10.99.0.7',
      },
    },
    {
      name: '$(VAR) expands what was defined before, $$ escapes, unknown stays',
      env: [
        { name: 'POD_NAME', fieldRef: { fieldPath: 'metadata.name' } },
        { name: 'OUT', value: '/ckpt/$(POD_NAME)/$(LATER)/$$(POD_NAME)' },
        { name: 'LATER', value: 'x' },
      ],
      want: { POD_NAME: 'train-1', OUT: '/ckpt/train-1/$(LATER)/$(POD_NAME)', LATER: 'x' },
    },
    {
      name: 'optional references to what is missing are left out',
      env: [
        { name: 'A', secretKeyRef: { name: 'nope', key: 'k', optional: true } },
        { name: 'B', secretKeyRef: { name: 'hf', key: 'nope', optional: true } },
        { name: 'C', configMapKeyRef: { name: 'nope', key: 'k', optional: true } },
      ],
      envFrom: [{ source: { kind: 'Secret', name: 'nope', optional: true } }],
      want: {},
    },
    {
      name: 'resourceFieldRef with divisors, rounded up',
      env: [
        { name: 'CPU', resourceFieldRef: { resource: 'limits.cpu' } },
        { name: 'CPU_M', resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } },
        { name: 'MEM_MI', resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } },
        { name: 'NONE', resourceFieldRef: { resource: 'limits.ephemeral-storage' } },
      ],
      want: { CPU: '2', CPU_M: '1500', MEM_MI: '16384', NONE: '0' },
    },
  ])('$name', async ({ env, envFrom, want }) => {
    const resources = { requests: { cpu: '1500m' }, limits: { memory: '16Gi' } };
    expect(await resolveEnv(spec(env, envFrom), FIELDS, resources, read)).toEqual({ ok: true, env: want });
  });

  it.each<{ name: string; env: EnvVarSpec[]; envFrom?: EnvFromSpec[]; message: string }>([
    {
      name: 'a missing Secret',
      env: [{ name: 'T', secretKeyRef: { name: 'gone', key: 'k' } }],
      message: 'secret "gone" not found',
    },
    {
      name: 'a missing key',
      env: [{ name: 'T', secretKeyRef: { name: 'hf', key: 'nope' } }],
      message: "couldn't find key nope in Secret ml/hf",
    },
    {
      name: 'a missing ConfigMap in envFrom',
      env: [],
      envFrom: [{ source: { kind: 'ConfigMap', name: 'gone' } }],
      message: 'configmap "gone" not found',
    },
  ])('refuses $name in kubelet words, naming no value', async ({ env, envFrom, message }) => {
    const outcome = await resolveEnv(spec(env, envFrom), FIELDS, {}, read);
    expect(outcome).toEqual({ ok: false, message });
    expect(JSON.stringify(outcome)).not.toContain('hf_secret_value');
  });

  it('reads each source once', async () => {
    const reads: string[] = [];
    const counting: SourceReader = async (kind, name) => {
      reads.push(`${kind}/${name}`);
      return read(kind, name);
    };
    await resolveEnv(
      spec(
        [
          { name: 'A', secretKeyRef: { name: 'hf', key: 'token' } },
          { name: 'B', secretKeyRef: { name: 'hf', key: 'other' } },
        ],
        [{ source: { kind: 'Secret', name: 'hf' } }],
      ),
      FIELDS,
      {},
      counting,
    );
    expect(reads).toEqual(['Secret/hf']);
  });
});

describe('envSpecOf', () => {
  it('reads env and envFrom in order, and names what it cannot give', () => {
    const container: V1Container = {
      name: 'main',
      env: [
        { name: 'A', value: '1' },
        { name: 'T', valueFrom: { secretKeyRef: { name: 'hf', key: 'token', optional: true } } },
        { name: 'IPS', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
        { name: 'R', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
      ],
      envFrom: [{ prefix: 'P_', configMapRef: { name: 'settings' } }, {}],
    };
    const got = envSpecOf(container);
    expect(got.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'T', secretKeyRef: { name: 'hf', key: 'token', optional: true } },
      { name: 'R', resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } },
    ]);
    expect(got.envFrom).toEqual([{ prefix: 'P_', source: { kind: 'ConfigMap', name: 'settings' } }]);
    expect(got.issues).toEqual([
      expect.stringMatching(
        /^containers\[main\]\.env IPS: valueFrom\.fieldRef status\.podIPs is not one anex can give/,
      ),
      'containers[main].envFrom[1]: set exactly one of secretRef or configMapRef',
    ]);
  });
});

describe('expand and quantity', () => {
  it.each([
    ['$(A)-$(B)', '1-$(B)'],
    ['$$(A)', '$(A)'],
    ['$', '$'],
    ['a$b', 'a$b'],
    ['$(A', '$(A'],
  ])('expand(%s) = %s', (input, want) => {
    expect(expand(input, { A: '1' })).toBe(want);
  });

  it.each([
    ['500m', 0.5],
    ['2', 2],
    ['1Ki', 1024],
    ['16Gi', 16 * 2 ** 30],
    ['1e3', 1000],
    ['1.5G', 1.5e9],
    ['lots', undefined],
  ])('quantity(%s) = %s', (text, want) => {
    expect(quantity(text)).toBe(want);
  });
});
