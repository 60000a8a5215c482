import { describe, expect, it } from 'vitest';
import type { InitContainerView } from '../../../lib/kube/cluster.ts';
import { agentBackend, agentHarness, anOffer, gpuPod, type Harness, MINUTE } from './harness.ts';

// Issue #14 §4: init containers and sidecars in the pod's image, run by the agent as kubelet
// runs them (computeInitContainerActions, KEP-753); the pod's initContainerStatuses and its
// Initialized condition follow the agent's reports; a failed init container fails the pod
// under restartPolicy Never and is restarted in place otherwise.

const IMAGE = 'ghcr.io/example/trainer:1';
const inits: InitContainerView[] = [
  { name: 'setup', image: IMAGE, command: ['sh', '-c', 'prepare'], env: { STEP: 'one' } },
  {
    name: 'proxy',
    image: IMAGE,
    command: ['proxy', '--port', '3000'],
    env: {},
    sidecar: true,
    mounts: [{ name: 'shared', mountPath: '/shared' }],
  },
];

async function started(h: Harness, restartPolicy: 'Never' | 'Always' = 'Never') {
  h.vast.offers = [anOffer()];
  const pod = h.cluster.addPod({
    ...gpuPod(1, {
      restartPolicy,
      containers: [
        { name: 'main', image: IMAGE, command: ['train'], mounts: [{ name: 'shared', mountPath: '/data' }] },
      ],
    }),
    initContainers: inits,
    volumes: [{ name: 'shared', source: { kind: 'emptyDir' } }],
  });
  await h.pass();
  h.tick(MINUTE);
  await h.pass();
  return pod;
}

describe('init containers and sidecars', () => {
  it('hands them to the agent in order, with their own command and env, and one set of mounts', async () => {
    const h = agentHarness();
    const pod = await started(h);
    const launch = await agentBackend(h).getLaunch(pod.uid);
    expect(launch?.initContainers).toEqual([
      { name: 'setup', command: ['sh', '-c', 'prepare'], args: [], env: { STEP: 'one' } },
      { name: 'proxy', command: ['proxy', '--port', '3000'], args: [], env: {}, sidecar: true },
    ]);
    expect(launch?.volumes).toEqual([
      { name: 'shared', path: '/shared', emptyDir: {} },
      { name: 'shared', path: '/data', emptyDir: {} },
    ]);
  });

  it('shows initialization as kubelet does: Pending with PodInitializing, then Running once the app starts', async () => {
    const h = agentHarness();
    const pod = await started(h);
    const backend = agentBackend(h);
    const report = (r: Parameters<typeof backend.recordStatus>[1]) =>
      backend.recordStatus(pod.uid, r, { now: h.now });
    await report({ state: 'started', container: 'setup' });
    await h.pass();
    let status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.phase).toBe('Pending');
    expect(status?.containerStatuses[0]?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(status?.initContainerStatuses?.map((s) => Object.keys(s.state)[0])).toEqual([
      'running',
      'waiting',
    ]);
    expect(status?.conditions.find((c) => c.type === 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [setup proxy]',
    });

    h.tick(5_000);
    await report({ state: 'exited', container: 'setup', exitCode: 0 });
    await report({ state: 'started', container: 'proxy' });
    await report({ state: 'ready', container: 'proxy', ready: true });
    await report({ state: 'started' });
    await h.pass();
    status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.phase).toBe('Running');
    expect(status?.conditions.find((c) => c.type === 'Initialized')?.status).toBe('True');
    const [setup, proxy] = status?.initContainerStatuses ?? [];
    expect(setup).toMatchObject({
      ready: true,
      restartCount: 0,
      state: { terminated: { exitCode: 0, reason: 'Completed' } },
    });
    expect(proxy).toMatchObject({ ready: true, started: true, state: { running: {} } });
    expect(h.cluster.events(pod).filter((e) => e.message === 'Started container setup')).toHaveLength(1);
  });

  it('restarts a failing init container in place under restartPolicy Always (CrashLoopBackOff), renting nothing more', async () => {
    const h = agentHarness();
    const pod = await started(h, 'Always');
    const backend = agentBackend(h);
    await backend.recordStatus(pod.uid, { state: 'started', container: 'setup' }, { now: h.now });
    await backend.recordStatus(
      pod.uid,
      { state: 'exited', container: 'setup', exitCode: 2, restartInSeconds: 10 },
      { now: h.now },
    );
    await h.pass();
    const setup = h.cluster.pod('default', pod.name)?.status?.initContainerStatuses?.[0];
    expect(setup?.state).toMatchObject({ waiting: { reason: 'CrashLoopBackOff' } });
    expect(setup?.lastState).toMatchObject({ terminated: { exitCode: 2, reason: 'Error' } });
    expect(h.cluster.pod('default', pod.name)?.status?.phase).toBe('Pending');
    expect(h.vast.calls.create).toBe(1);
    expect(h.vast.live()).toHaveLength(1);
  });

  it('fails the pod when an init container fails under restartPolicy Never, and destroys the machine', async () => {
    const h = agentHarness();
    const pod = await started(h, 'Never');
    const backend = agentBackend(h);
    await backend.recordStatus(pod.uid, { state: 'started', container: 'setup' }, { now: h.now });
    await backend.recordStatus(
      pod.uid,
      { state: 'exited', container: 'setup', exitCode: 3, reason: 'Error' },
      { now: h.now },
    );
    await h.pass();
    await h.pass();
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.phase).toBe('Failed');
    expect(status?.reason).toBe('InitContainerFailed');
    expect(status?.message).toBe('Init container setup exited with code 3');
    expect(status?.initContainerStatuses?.[0]?.state).toMatchObject({
      terminated: { exitCode: 3, reason: 'Error' },
    });
    expect(h.vast.live()).toEqual([]);
    expect(h.vast.calls.create).toBe(1);
  });

  it('ignores a report about an older run of an init container (reports are retried and arrive late)', async () => {
    const h = agentHarness();
    const pod = await started(h, 'Always');
    const backend = agentBackend(h);
    const at = { now: h.now };
    await backend.recordStatus(pod.uid, { state: 'started', container: 'setup', restartCount: 1 }, at);
    await backend.recordStatus(
      pod.uid,
      { state: 'exited', container: 'setup', exitCode: 1, restartCount: 0, restartInSeconds: 0 },
      at,
    );
    const record = await h.store.getPod(pod.uid);
    expect(record?.initRuns).toEqual([
      { name: 'setup', restartCount: 1, state: 'running', startedAt: h.now },
    ]);
  });

  it('a sidecar’s final exit (its stop after a failed init container, or a deletion) is never the pod’s failure', async () => {
    const h = agentHarness();
    const pod = await started(h, 'Never');
    const backend = agentBackend(h);
    const at = { now: h.now };
    await backend.recordStatus(pod.uid, { state: 'started', container: 'proxy' }, at);
    await backend.recordStatus(pod.uid, { state: 'exited', container: 'proxy', exitCode: 143 }, at);
    expect((await h.store.getPod(pod.uid))?.failureReason).toBeUndefined();

    // A failed init container, then the sidecar's stop: the init container's end stays the reason.
    await backend.recordStatus(pod.uid, { state: 'exited', container: 'setup', exitCode: 3 }, at);
    await backend.recordStatus(pod.uid, { state: 'exited', container: 'proxy', exitCode: 137 }, at);
    const record = await h.store.getPod(pod.uid);
    expect(record?.failureReason).toBe('InitContainerFailed');
    expect(record?.lastError).toBe('Init container setup exited with code 3');
  });
});
