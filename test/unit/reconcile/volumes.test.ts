import { describe, expect, it } from 'vitest';
import type { ContainerView, PodView } from '../../../lib/kube/cluster.ts';
import { LaunchConfigError } from '../../../lib/tunnel/endpoint/types.ts';
import { agentBackend, agentHarness, anOffer, gpuPod, harness, MINUTE } from './harness.ts';

// Issue #14 §2 and §6: a pod's volumes are checked before renting (kubelet's FailedMount holds
// it in ContainerCreating, nothing is rented), read when the agent bootstraps and handed over
// in its answer only; what a rented machine cannot honour is UnsupportedPodSpec, not rented.

const SECRET_VALUE = 'hf_volume_do_not_leak_42';

const container: Partial<ContainerView> = {
  name: 'main',
  image: 'ghcr.io/example/trainer:1',
  command: ['python', 'train.py'],
  mounts: [
    { name: 'hf', mountPath: '/etc/hf', readOnly: true },
    { name: 'scratch', mountPath: '/scratch' },
  ],
};
const volumes: PodView['volumes'] = [
  { name: 'hf', source: { kind: 'files', sources: [{ kind: 'Secret', name: 'hf' }], defaultMode: 0o400 } },
  { name: 'scratch', source: { kind: 'emptyDir', sizeLimitBytes: 1024 } },
];

describe('volumes', () => {
  it('holds the pod in ContainerCreating with FailedMount while the Secret is missing, then rents and hands the files over', async () => {
    const h = agentHarness();
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod({ ...gpuPod(1, { containers: [container] }), volumes });
    await h.pass();
    await h.pass();
    expect(h.vast.calls.create).toBe(0);
    const message = 'MountVolume.SetUp failed for volume "hf" : secret "hf" not found';
    expect(h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state).toEqual({
      waiting: { reason: 'ContainerCreating', message },
    });
    const failed = h.cluster.events(pod).filter((e) => e.reason === 'FailedMount');
    expect(failed.map((e) => e.count)).toEqual([1]);

    h.cluster.setEnvSource('Secret', 'default', 'hf', { token: SECRET_VALUE });
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.calls.create).toBe(1);
    const launch = await agentBackend(h).getLaunch(pod.uid);
    expect(launch?.volumes).toEqual([
      {
        name: 'hf',
        path: '/etc/hf',
        readOnly: true,
        files: [{ path: 'token', mode: 0o400, data: Buffer.from(SECRET_VALUE).toString('base64') }],
      },
      { name: 'scratch', path: '/scratch', emptyDir: { sizeLimitBytes: 1024 } },
    ]);
    const b64 = Buffer.from(SECRET_VALUE).toString('base64');
    for (const kept of [JSON.stringify(await h.store.listPods()), JSON.stringify(h.cluster.events())]) {
      expect(kept).not.toContain(SECRET_VALUE);
      expect(kept).not.toContain(b64);
    }

    // The Secret goes after the rent: the bootstrap is refused (409), as kubelet's mount fails.
    h.cluster.setEnvSource('Secret', 'default', 'hf');
    await expect(agentBackend(h).getLaunch(pod.uid)).rejects.toBeInstanceOf(LaunchConfigError);
  });

  it('without the agent, a pod with volumes is UnsupportedPodSpec and nothing is rented', async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod({ ...gpuPod(1, { containers: [container] }), volumes });
    await h.pass();
    expect(h.vast.calls.create).toBe(0);
    const state = h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state;
    expect(state).toMatchObject({ waiting: { reason: 'UnsupportedPodSpec' } });
    expect(JSON.stringify(state)).toContain('volumes can be written only through the anex agent');
  });

  it('a pod the webhook would have refused (a PVC) is UnsupportedPodSpec with an event, and nothing is rented', async () => {
    const h = agentHarness();
    h.vast.offers = [anOffer()];
    const issue = 'spec.volumes[data]: persistentVolumeClaim volumes cannot be attached to a rented machine';
    const pod = h.cluster.addPod({ ...gpuPod(1), specIssues: [issue] });
    await h.pass();
    expect(h.vast.calls.create).toBe(0);
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.containerStatuses[0]?.state).toEqual({
      waiting: { reason: 'UnsupportedPodSpec', message: issue },
    });
    expect(status?.conditions.find((c) => c.type === 'anex.sh/Provisioned')?.reason).toBe(
      'UnsupportedPodSpec',
    );
    const event = h.cluster.events(pod).find((e) => e.reason === 'UnsupportedPodSpec');
    expect(event?.message).toBe(
      `A rented machine cannot honour this pod; nothing was rented. Change the spec and recreate the pod: ${issue}`,
    );
  });

  it('an eviction the agent reports (emptyDir over its sizeLimit) fails the pod whatever its restartPolicy, and rents nothing more', async () => {
    const h = agentHarness();
    h.vast.offers = [anOffer(), anOffer()];
    h.cluster.setEnvSource('Secret', 'default', 'hf', { token: SECRET_VALUE });
    const pod = h.cluster.addPod({
      ...gpuPod(1, { containers: [container], restartPolicy: 'Always' }),
      volumes,
    });
    await h.pass();
    const backend = agentBackend(h);
    await backend.recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    const message = 'Usage of EmptyDir volume "scratch" exceeds the limit "1024".';
    await backend.recordStatus(pod.uid, { state: 'evicted', reason: 'Evicted', message }, { now: h.now });
    h.tick(MINUTE);
    await h.pass();
    await h.pass();
    expect(h.vast.live()).toEqual([]);
    expect(h.vast.calls.create).toBe(1);
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.phase).toBe('Failed');
    expect(status?.reason).toBe('Evicted');
    expect(status?.message).toContain(message);
    expect(h.cluster.events(pod).find((e) => e.reason === 'Evicted')?.message).toBe(
      `${message}; the instance is destroyed`,
    );
  });
});
