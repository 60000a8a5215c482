import { describe, expect, it } from 'vitest';
import type { ContainerView } from '../../../lib/kube/cluster.ts';
import { LaunchConfigError } from '../../../lib/tunnel/endpoint/types.ts';
import { agentBackend, agentHarness, anOffer, gpuPod, harness, MINUTE } from './harness.ts';

// Issue #14 §1: env from Secrets, ConfigMaps and pod fields. Checked before renting (kubelet's
// CreateContainerConfigError holds the pod, nothing is rented), resolved when the agent
// bootstraps, handed over in its answer only.

const SECRET_VALUE = 'hf_do_not_leak_0123456789';

const container: Partial<ContainerView> = {
  name: 'main',
  image: 'ghcr.io/example/trainer:1',
  command: ['python', 'train.py'],
  env: { PLAIN: 'yes' },
  envSpec: {
    env: [
      { name: 'PLAIN', value: 'yes' },
      { name: 'HF_TOKEN', secretKeyRef: { name: 'hf', key: 'token' } },
      { name: 'POD_NAME', fieldRef: { fieldPath: 'metadata.name' } },
      { name: 'IP', fieldRef: { fieldPath: 'status.podIP' } },
    ],
    envFrom: [{ prefix: 'CFG_', source: { kind: 'ConfigMap', name: 'settings' } }],
  },
};

const backendOf = agentBackend;

describe('env from Secrets and ConfigMaps', () => {
  it('holds the pod with CreateContainerConfigError and rents nothing while a source is missing', async () => {
    const h = agentHarness();
    h.vast.offers = [anOffer()];
    h.cluster.setEnvSource('ConfigMap', 'default', 'settings', { MODE: 'train' });
    const pod = h.cluster.addPod(gpuPod(1, { containers: [container] }));
    await h.pass();
    await h.pass();
    expect(h.vast.calls.create).toBe(0);
    const state = h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state;
    expect(state).toEqual({
      waiting: { reason: 'CreateContainerConfigError', message: 'secret "hf" not found' },
    });
    const failed = h.cluster.events(pod).filter((e) => e.reason === 'Failed');
    expect(failed.map((e) => [e.message, e.count])).toEqual([['Error: secret "hf" not found', 1]]);

    // The Secret appears: the next pass rents.
    h.cluster.setEnvSource('Secret', 'default', 'hf', { token: SECRET_VALUE });
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.calls.create).toBe(1);
    expect(JSON.stringify(await h.store.listPods())).not.toContain(SECRET_VALUE);
    expect(JSON.stringify(h.cluster.events())).not.toContain(SECRET_VALUE);
  });

  it('the agent gets the environment at bootstrap, built as kubelet builds it', async () => {
    const h = agentHarness();
    h.vast.offers = [anOffer()];
    h.cluster.setEnvSource('ConfigMap', 'default', 'settings', { MODE: 'train' });
    h.cluster.setEnvSource('Secret', 'default', 'hf', { token: SECRET_VALUE });
    const pod = h.cluster.addPod(gpuPod(1, { containers: [container] }));
    await h.pass();
    const record = await h.store.getPod(pod.uid);
    const launch = await backendOf(h).getLaunch(pod.uid);
    expect(launch?.env).toEqual({
      CFG_MODE: 'train',
      PLAIN: 'yes',
      HF_TOKEN: SECRET_VALUE,
      POD_NAME: pod.name,
      IP: record?.vpnAddress,
    });
    // The provider saw none of it: the agent launch carries the stub, the URL and the token.
    const created = h.vast.creates[0];
    expect(JSON.stringify(created?.launch)).not.toContain(SECRET_VALUE);
    expect(JSON.stringify(created?.launch)).not.toContain('PLAIN');
  });

  it('a source deleted after renting refuses the bootstrap with the reason (no value)', async () => {
    const h = agentHarness();
    h.vast.offers = [anOffer()];
    h.cluster.setEnvSource('ConfigMap', 'default', 'settings', { MODE: 'train' });
    h.cluster.setEnvSource('Secret', 'default', 'hf', { token: SECRET_VALUE });
    const pod = h.cluster.addPod(gpuPod(1, { containers: [container] }));
    await h.pass();
    h.cluster.setEnvSource('Secret', 'default', 'hf', { other: 'x' });
    const refused = backendOf(h).getLaunch(pod.uid);
    await expect(refused).rejects.toBeInstanceOf(LaunchConfigError);
    await expect(refused).rejects.toThrow("couldn't find key token in Secret default/hf");
  });

  it('without the agent, a pod whose env reads a Secret is refused before renting', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod(gpuPod(1, { containers: [container] }));
    await h.pass();
    expect(h.vast.calls.create).toBe(0);
    const messages = h.cluster.events(pod).map((e) => e.message);
    expect(messages.join('\n')).toContain(
      'env valueFrom and envFrom can be given only through the anex agent',
    );
  });
});
