import { describe, expect, it } from 'vitest';
import type { ContainerView, PodView } from '../../../lib/kube/cluster.ts';
import { podSpecIssues } from '../../../lib/reconcile/pod-checks.ts';
import { anOffer, gpuPod, harness } from './harness.ts';

function aContainer(name: string, envIssues?: string[]): ContainerView {
  return { name, image: 'img:1', env: {}, ...(envIssues === undefined ? {} : { envIssues }) };
}

function withSecretEnv(container: ContainerView): ContainerView {
  return {
    ...container,
    envSpec: { env: [{ name: 'T', secretKeyRef: { name: 's', key: 'k' } }], envFrom: [] },
  };
}

function aView(overrides: Partial<PodView>): PodView {
  return {
    namespace: 'd',
    name: 'p',
    uid: 'u',
    annotations: {},
    labels: {},
    nodeSelector: { 'node-provider': 'vastai' },
    containers: [aContainer('main')],
    restartPolicy: 'Never',
    status: undefined,
    ...overrides,
  };
}

describe('podSpecIssues', () => {
  it.each([
    { case: 'a well-formed pod', pod: aView({}), expected: [] },
    {
      case: 'no node-provider selector (a DaemonSet)',
      pod: aView({ nodeSelector: {} }),
      expected: ['"node-provider" is not set'],
    },
    {
      case: 'the other provider selected',
      pod: aView({ nodeSelector: { 'node-provider': 'runpod' } }),
      expected: ['"node-provider" is "runpod"'],
    },
    {
      case: 'two containers',
      pod: aView({ containers: [aContainer('a'), aContainer('b')] }),
      expected: ['found 2 (a, b)'],
    },
    {
      case: 'an env entry that cannot be given',
      pod: aView({
        containers: [aContainer('main', ['containers[main].env X: valueFrom.fieldRef status.podIPs …'])],
      }),
      expected: ['env X: valueFrom.fieldRef status.podIPs'],
    },
    {
      case: 'env from a Secret, launched by the agent',
      pod: aView({ containers: [withSecretEnv(aContainer('main'))] }),
      agent: true,
      expected: [],
    },
    {
      case: 'env from a Secret, launched without the agent',
      pod: aView({ containers: [withSecretEnv(aContainer('main'))] }),
      expected: ['env valueFrom and envFrom can be given only through the anex agent'],
    },
  ])('$case', ({ pod, expected, agent }) => {
    const issues = podSpecIssues(pod, 'vastai', { agent: agent === true });
    expect(issues).toHaveLength(expected.length);
    for (const [i, text] of expected.entries()) expect(issues[i]).toContain(text);
  });

  it('never rents for a pod that did not select the node, and says why', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod(gpuPod(1, { nodeSelector: {} }));
    await h.pass();
    expect(h.vast.calls.create).toBe(0);
    expect(h.cluster.events(pod).find((e) => e.reason === 'InvalidAnnotations')?.message).toContain(
      'node-provider',
    );
  });
});
