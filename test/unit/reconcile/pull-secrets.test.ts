import { describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import type { ImageGate } from '../../../lib/reconcile/image-gate.ts';
import { FakeProvider } from '../../support/fakes/fake-provider.ts';
import { anOffer, aRunPodOffer, gpuPod, harness } from './harness.ts';

// Issue #14 §3 in the pass: imagePullSecrets are read before renting; their logins go to the
// image check, which tries them in the kubelet's order, and the one the registry took goes to
// the provider's create — nowhere else; a missing Secret is skipped with kubelet's warning, an
// unreadable one fails the pull; RunPod's registry credentials are swept on full passes.

const PASSWORD = 'pull-secret-do-not-leak-77';
const AUTH = Buffer.from(`me:${PASSWORD}`).toString('base64');
const dockerconfig = (auths: Record<string, unknown>) => JSON.stringify({ auths });
const REGCRED = { '.dockerconfigjson': dockerconfig({ 'ghcr.io': { auth: AUTH } }) };

/** A gate that takes only `password`, and remembers the logins it was given. */
function registryTaking(password: string): ImageGate & { tried: string[][] } {
  const tried: string[][] = [];
  const check: ImageGate = async (_container, options) => {
    const auths = options.auths ?? [];
    tried.push(auths.map((a) => a.secret));
    const taken = auths.find((a) => a.password === password);
    if (taken !== undefined) return { outcome: 'ok', auth: taken };
    return {
      outcome: 'refused',
      reason: 'ErrImagePull',
      message: `failed to pull image "ghcr.io/example/trainer:1": pull access denied (${auths.length} logins)`,
    };
  };
  return Object.assign(check, { tried });
}

describe('imagePullSecrets in the pass', () => {
  it('hands the login for the image’s registry to the create, and keeps it nowhere', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    h.cluster.setEnvSource('Secret', 'default', 'regcred', REGCRED);
    const pod = h.cluster.addPod({ ...gpuPod(1), imagePullSecrets: ['regcred'] });
    const summary = await h.pass();
    expect(h.vast.creates.map((c) => c.launch.registryAuth)).toEqual([
      {
        registry: 'ghcr.io',
        username: 'me',
        password: PASSWORD,
        secret: 'regcred',
        identity: 'default/regcred@uid-Secret/default/regcred:1#ghcr.io',
      },
    ]);
    const launch = h.vast.creates[0]?.launch;
    const written = [
      JSON.stringify(await h.store.listPods()),
      JSON.stringify(h.cluster.events()),
      JSON.stringify(h.cluster.pod('default', pod.name)),
      JSON.stringify(summary),
      JSON.stringify(launch?.env),
      JSON.stringify(launch?.command),
      JSON.stringify(launch?.args),
    ].join('\n');
    for (const secret of [PASSWORD, AUTH]) expect(written).not.toContain(secret);
  });

  it('hands the login to a RunPod create too (the adapter makes the registry credential)', async () => {
    const h = harness();
    h.runpod.offers = [aRunPodOffer()];
    h.cluster.setEnvSource('Secret', 'default', 'regcred', REGCRED);
    h.cluster.addPod({ ...gpuPod(1, { provider: 'runpod' }), imagePullSecrets: ['regcred'] });
    await h.pass();
    expect(h.runpod.creates.map((c) => c.launch.registryAuth?.username)).toEqual(['me']);
  });

  it('tries every Secret’s login in the kubelet’s order and rents with the one the registry took', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    const wrong = Buffer.from('me:wrong').toString('base64');
    h.cluster.setEnvSource('Secret', 'default', 'old', {
      '.dockerconfigjson': dockerconfig({ 'ghcr.io': { auth: wrong } }),
    });
    h.cluster.setEnvSource('Secret', 'default', 'regcred', REGCRED);
    const gate = registryTaking(PASSWORD);
    h.deps.images = gate;
    h.cluster.addPod({ ...gpuPod(1), imagePullSecrets: ['old', 'regcred'] });
    await h.pass();
    expect(gate.tried).toEqual([['old', 'regcred']]);
    expect(h.vast.creates.map((c) => c.launch.registryAuth?.secret)).toEqual(['regcred']);
  });

  it('holds the pod with ErrImagePull when the registry refuses every login, and rents nothing', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    h.cluster.setEnvSource('Secret', 'default', 'regcred', REGCRED);
    h.deps.images = registryTaking('another-password');
    const pod = h.cluster.addPod({ ...gpuPod(1), imagePullSecrets: ['regcred'] });
    await h.pass();
    expect(h.vast.calls.create).toBe(0);
    expect(await h.store.getPod(pod.uid)).toBeUndefined();
    expect(h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state).toMatchObject({
      waiting: { reason: 'ErrImagePull' },
    });
  });

  it('goes on without a pull Secret it cannot read, with kubelet’s warning', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod({ ...gpuPod(1), imagePullSecrets: ['absent'] });
    await h.pass();
    expect(h.vast.calls.create).toBe(1);
    expect(h.vast.creates[0]?.launch.registryAuth).toBeUndefined();
    expect(h.cluster.events(pod).find((e) => e.reason === 'FailedToRetrieveImagePullSecret')).toMatchObject({
      type: 'Warning',
      message:
        'Unable to retrieve some image pull secrets (absent); attempting to pull the image may not succeed.',
    });
  });

  it('says which namespace to give anex when it may not read the pull Secret (RBAC)', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    h.cluster.failNext('readPullSecret', new AnexError('forbidden', { kind: 'auth' }));
    const pod = h.cluster.addPod({ ...gpuPod(1), imagePullSecrets: ['regcred'] });
    await h.pass();
    expect(h.cluster.events(pod).find((e) => e.reason === 'FailedToRetrieveImagePullSecret')?.message).toBe(
      'Unable to retrieve some image pull secrets (regcred); attempting to pull the image may not succeed. anex may not read Secrets in namespace default (add it with anex manifests --env-namespaces).',
    );
  });

  it('fails the pull (ErrImagePull) on a pull Secret whose config cannot be read, naming it, never quoting it', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    h.cluster.setEnvSource('Secret', 'default', 'regcred', {
      '.dockerconfigjson': `{"auths": {"ghcr.io": {"auth": "${AUTH}"`,
    });
    const pod = h.cluster.addPod({ ...gpuPod(1), imagePullSecrets: ['regcred'] });
    await h.pass();
    expect(h.vast.calls.create).toBe(0);
    const state = h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state;
    expect(state).toEqual({
      waiting: {
        reason: 'ErrImagePull',
        message:
          'failed to pull image "ghcr.io/example/trainer:1": imagePullSecret "regcred": .dockerconfigjson: is not valid JSON',
      },
    });
    expect(JSON.stringify(h.cluster.events(pod))).not.toContain(AUTH);
  });

  it('passes over a Secret of another type, as the kubelet does', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    h.cluster.setEnvSource('Secret', 'default', 'regcred', REGCRED, 'Opaque');
    h.cluster.addPod({ ...gpuPod(1), imagePullSecrets: ['regcred'] });
    await h.pass();
    expect(h.vast.creates[0]?.launch.registryAuth).toBeUndefined();
  });
});

/** A fake provider that keeps something besides instances (RunPod's registry credentials). */
class SweepingProvider extends FakeProvider {
  swept = 0;
  failure: Error | undefined;
  async sweepCredentials(): Promise<number> {
    this.swept += 1;
    if (this.failure !== undefined) throw this.failure;
    return 0;
  }
}

describe('the provider’s credential sweep', () => {
  it('runs on full passes only (a per-pod pass does not see the other pods)', async () => {
    const h = harness();
    const runpod = new SweepingProvider('runpod');
    h.deps.providers.runpod = runpod;
    const pod = h.cluster.addPod(gpuPod(1, { provider: 'runpod' }));
    await h.pass({ podUid: pod.uid });
    expect(runpod.swept).toBe(0);
    await h.pass();
    expect(runpod.swept).toBe(1);
  });

  it('is left for a later pass while the provider is down', async () => {
    const h = harness();
    const runpod = new SweepingProvider('runpod');
    runpod.down = true;
    h.deps.providers.runpod = runpod;
    await h.pass();
    expect(runpod.swept).toBe(0);
  });

  it('fails as a pass error, not as a failed pass', async () => {
    const h = harness();
    const runpod = new SweepingProvider('runpod');
    runpod.failure = new Error('registries unreachable');
    h.deps.providers.runpod = runpod;
    const summary = await h.pass();
    expect(summary.errors.map((e) => e.message).join('\n')).toContain('registries unreachable');
  });
});
