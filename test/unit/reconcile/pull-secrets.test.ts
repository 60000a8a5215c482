import { describe, expect, it } from 'vitest';
import { anOffer, aRunPodOffer, gpuPod, harness } from './harness.ts';

// Issue #14 §3 in the pass: imagePullSecrets are read before renting and their login goes to
// the image check and the provider's create only; a missing one is skipped with kubelet's
// warning; RunPod, where anex does not create registry credentials yet, refuses them.

const PASSWORD = 'pull-secret-do-not-leak-77';
const dockerconfig = JSON.stringify({
  auths: { 'ghcr.io': { auth: Buffer.from(`me:${PASSWORD}`).toString('base64') } },
});

describe('imagePullSecrets', () => {
  it('hands the login for the image’s registry to the create, and keeps it nowhere', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    h.cluster.setEnvSource('Secret', 'default', 'regcred', { '.dockerconfigjson': dockerconfig });
    h.cluster.addPod({ ...gpuPod(1), imagePullSecrets: ['regcred'] });
    await h.pass();
    expect(h.vast.creates.map((c) => c.launch.registryAuth)).toEqual([
      {
        registry: 'ghcr.io',
        username: 'me',
        password: PASSWORD,
        secret: 'regcred',
        identity: 'default/regcred@uid-Secret/default/regcred:1#ghcr.io',
      },
    ]);
    expect(JSON.stringify(await h.store.listPods())).not.toContain(PASSWORD);
    expect(JSON.stringify(h.cluster.events())).not.toContain(PASSWORD);
  });

  it('goes on without a pull Secret it cannot read, with kubelet’s warning', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod({ ...gpuPod(1), imagePullSecrets: ['absent'] });
    await h.pass();
    expect(h.vast.calls.create).toBe(1);
    expect(h.vast.creates[0]?.launch.registryAuth).toBeUndefined();
    expect(h.cluster.events(pod).find((e) => e.reason === 'FailedToRetrieveImagePullSecret')?.message).toBe(
      'Unable to retrieve some image pull secrets (absent); attempting to pull the image may not succeed.',
    );
  });

  it('is refused on RunPod (UnsupportedPodSpec), and nothing is rented', async () => {
    const h = harness();
    h.runpod.offers = [aRunPodOffer()];
    const pod = h.cluster.addPod({ ...gpuPod(1, { provider: 'runpod' }), imagePullSecrets: ['regcred'] });
    await h.pass();
    expect(h.runpod.calls.create).toBe(0);
    const state = h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state;
    expect(state).toMatchObject({ waiting: { reason: 'UnsupportedPodSpec' } });
    expect(JSON.stringify(state)).toContain('private images are not delivered on RunPod yet');
  });
});
