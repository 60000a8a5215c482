import { describe, expect, it } from 'vitest';
import { applyReport } from '../../../lib/reconcile/agent-backend.ts';
import type { PodWrite } from '../../../lib/state/store.ts';
import type { StatusReport } from '../../../lib/tunnel/endpoint/types.ts';
import { agentBackend, agentHarness, anOffer, gpuPod, type Harness, harness, MINUTE, T0 } from './harness.ts';

// Issue #13: the agent restarts the container in place (kubelet's CrashLoopBackOff) and stops
// it gracefully on deletion; the control plane keeps the record and the pod status the way a
// kubelet would (pkg/kubelet/kubelet_pods.go getPhase / generateAPIPodStatus).

const backendOf = agentBackend;

/** A pod whose agent bootstrapped on a machine that is up, and reported its first start. */
async function runningPod(h: Harness, extra: Parameters<typeof gpuPod>[1] = {}) {
  h.vast.offers = [anOffer(), anOffer()];
  const pod = h.cluster.addPod(gpuPod(1, extra));
  await h.pass();
  h.tick(MINUTE);
  h.vast.advance();
  const backend = backendOf(h);
  await backend.saveStatusCredential(pod.uid, 'ab'.repeat(32));
  await backend.recordStatus(pod.uid, { state: 'started', restartCount: 0 }, { now: h.now });
  await h.pass();
  return { pod, backend };
}

const running: PodWrite = {
  podUid: 'u',
  namespace: 'default',
  name: 'p',
  provider: 'vastai',
  stage: 'running',
  attempts: 1,
  startedAt: T0,
  agentRun: 2,
};

describe('applyReport: reports are repeated and late; each change is made once', () => {
  it.each<{ name: string; report: StatusReport; expect: Partial<PodWrite> | 'unchanged' }>([
    { name: 'the same start again', report: { state: 'started', restartCount: 2 }, expect: 'unchanged' },
    { name: 'a start of an older run', report: { state: 'started', restartCount: 1 }, expect: 'unchanged' },
    {
      name: 'an exit of an older run',
      report: { state: 'exited', exitCode: 1, restartCount: 1, restartInSeconds: 10 },
      expect: 'unchanged',
    },
    {
      name: 'an exit the agent restarts from',
      report: { state: 'exited', exitCode: 1, restartCount: 2, restartInSeconds: 40 },
      expect: {
        agentRun: 2,
        backoff: { seconds: 40, until: T0 + 5_000 + 40_000 },
        lastTerminated: { exitCode: 1, reason: 'Error', startedAt: T0, finishedAt: T0 + 5_000 },
      },
    },
    {
      name: 'a liveness kill',
      report: { state: 'exited', exitCode: 137, restartCount: 2, restartInSeconds: 0, reason: 'Unhealthy' },
      expect: {
        lastTerminated: {
          exitCode: 137,
          reason: 'Error',
          message: 'The container failed its liveness probe and was restarted',
          startedAt: T0,
          finishedAt: T0 + 5_000,
        },
      },
    },
    {
      name: 'the next run',
      report: { state: 'started', restartCount: 3 },
      expect: { agentRun: 3, startedAt: T0 + 5_000 },
    },
    {
      name: 'the final exit',
      report: { state: 'exited', exitCode: 0, restartCount: 2 },
      expect: { exitCode: 0 },
    },
    { name: 'readiness', report: { state: 'ready', ready: true, restartCount: 2 }, expect: { ready: true } },
    {
      name: 'readiness of an older run',
      report: { state: 'ready', ready: true, restartCount: 1 },
      expect: 'unchanged',
    },
    {
      name: 'a probe failure',
      report: { state: 'unhealthy', probe: 'liveness', restartCount: 2 },
      expect: 'unchanged',
    },
  ])('$name', ({ report, expect: want }) => {
    const next = applyReport(running, report, T0 + 5_000);
    if (want === 'unchanged') expect(next).toBeUndefined();
    else expect(next).toMatchObject(want);
  });

  it('nothing after the final exit', () => {
    const ended = { ...running, exitCode: 3 };
    expect(applyReport(ended, { state: 'started', restartCount: 3 }, T0)).toBeUndefined();
    expect(
      applyReport(ended, { state: 'exited', exitCode: 1, restartCount: 3, restartInSeconds: 0 }, T0),
    ).toBeUndefined();
  });

  it('the same back-off reported twice is recorded once', () => {
    const once = applyReport(
      running,
      { state: 'exited', exitCode: 1, restartCount: 2, restartInSeconds: 10 },
      T0 + 1,
    );
    expect(once).toBeDefined();
    const again = applyReport(
      once as PodWrite,
      { state: 'exited', exitCode: 1, restartCount: 2, restartInSeconds: 10 },
      T0 + 9,
    );
    expect(again).toBeUndefined();
  });
});

describe('restarts in place: one machine, kubelet status', () => {
  it('an exit under restartPolicy Always: phase Running, CrashLoopBackOff, lastState, restartCount; no new machine', async () => {
    const h = agentHarness();
    const { pod, backend } = await runningPod(h, { restartPolicy: 'Always' });
    const created = h.vast.calls.create;
    await backend.recordStatus(
      pod.uid,
      { state: 'exited', exitCode: 1, restartCount: 0, restartInSeconds: 0 },
      { now: h.now },
    );
    await backend.recordStatus(pod.uid, { state: 'started', restartCount: 1 }, { now: h.now + 1_000 });
    h.tick(5_000);
    await backend.recordStatus(
      pod.uid,
      { state: 'exited', exitCode: 1, restartCount: 1, restartInSeconds: 10 },
      { now: h.now },
    );
    await h.pass();
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.phase).toBe('Running');
    expect(status?.containerStatuses[0]).toMatchObject({
      ready: false,
      restartCount: 1,
      state: {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: expect.stringMatching(/^back-off 10s restarting failed container=/),
        },
      },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
      containerID: expect.stringMatching(/^anex:\/\/vastai\//),
    });
    expect(status?.conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
    });
    expect(h.cluster.events(pod).map((e) => e.reason)).toContain('BackOff');
    expect(h.vast.calls.create).toBe(created);
    expect(h.vast.live()).toHaveLength(1);

    await backend.recordStatus(pod.uid, { state: 'started', restartCount: 2 }, { now: h.now + 10_000 });
    const after = h.cluster.pod('default', pod.name)?.status?.containerStatuses[0];
    expect(after).toMatchObject({ ready: true, restartCount: 2, state: { running: expect.any(Object) } });
  });

  it('readiness follows the agent when a readiness probe gates it', async () => {
    const h = agentHarness();
    const probe = {
      tcpSocket: { port: 8080 },
      initialDelaySeconds: 0,
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    };
    const { pod, backend } = await runningPod(h, {
      restartPolicy: 'Always',
      containers: [
        { name: 'main', image: 'img:1', command: ['serve'], env: {}, probes: { readiness: probe } },
      ],
    });
    const ready = () =>
      h.cluster.pod('default', pod.name)?.status?.conditions.find((c) => c.type === 'Ready')?.status;
    expect(ready()).toBe('False');
    await backend.recordStatus(pod.uid, { state: 'ready', ready: true, restartCount: 0 }, { now: h.now });
    expect(ready()).toBe('True');
    await backend.recordStatus(
      pod.uid,
      {
        state: 'unhealthy',
        probe: 'readiness',
        reason: 'Readiness probe failed: dial tcp 127.0.0.1:8080: connect: connection refused',
        restartCount: 0,
      },
      { now: h.now },
    );
    await backend.recordStatus(pod.uid, { state: 'ready', ready: false, restartCount: 0 }, { now: h.now });
    expect(ready()).toBe('False');
    expect(h.cluster.events(pod).find((e) => e.reason === 'Unhealthy')?.message).toMatch(
      /^Readiness probe failed/,
    );
    await h.pass();
    expect(ready()).toBe('False');
  });

  it('a lost machine: replaced once, the lost run in lastState, the attempt counted', async () => {
    const h = agentHarness();
    const { pod, backend } = await runningPod(h, { restartPolicy: 'Always' });
    await backend.recordStatus(
      pod.uid,
      { state: 'exited', exitCode: 1, restartCount: 0, restartInSeconds: 0 },
      { now: h.now },
    );
    await backend.recordStatus(pod.uid, { state: 'started', restartCount: 1 }, { now: h.now });
    const before = await h.store.getPod(pod.uid);
    h.vast.setState(before?.instance?.id as string, { phase: 'gone' });
    h.tick(MINUTE);
    await h.pass();
    const record = await h.store.getPod(pod.uid);
    expect(record).toMatchObject({ restarts: 2, attempts: 2 });
    expect(record?.agentRun).toBeUndefined();
    expect(record?.lastTerminated).toMatchObject({ exitCode: 137, reason: 'ContainerStatusUnknown' });
    expect(h.vast.calls.create).toBe(2);
  });

  it('a lost machine under restartPolicy Never: Failed with DisruptionTarget', async () => {
    const h = agentHarness();
    const { pod } = await runningPod(h, { restartPolicy: 'Never' });
    const before = await h.store.getPod(pod.uid);
    h.vast.setState(before?.instance?.id as string, { phase: 'gone' });
    h.tick(MINUTE);
    await h.pass();
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.phase).toBe('Failed');
    expect(status?.conditions.find((c) => c.type === 'DisruptionTarget')).toMatchObject({
      status: 'True',
      reason: 'TerminationByKubelet',
    });
    expect(status?.containerStatuses[0]?.state).toMatchObject({
      terminated: { reason: 'ContainerStatusUnknown' },
    });
  });
});

describe('graceful deletion', () => {
  it('waits for the agent to stop the workload, writes the exit, then destroys and deletes', async () => {
    const h = agentHarness();
    const { pod, backend } = await runningPod(h);
    h.cluster.requestDeletion(pod, new Date(h.now + 30_000).toISOString());
    expect(await backend.liveness(pod.uid)).toEqual({ alive: false, graceSeconds: 30 });
    await h.pass();
    expect(h.vast.live()).toHaveLength(1);
    expect(h.cluster.pod('default', pod.name)).toBeDefined();

    h.tick(3_000);
    await backend.recordStatus(pod.uid, { state: 'exited', exitCode: 143, restartCount: 0 }, { now: h.now });
    const written: string[] = [];
    const update = h.cluster.updatePodStatus.bind(h.cluster);
    h.cluster.updatePodStatus = async (ref, status) => {
      written.push(`${status.phase}:${JSON.stringify(status.containerStatuses[0]?.state)}`);
      return update(ref, status);
    };
    await h.pass({ podUid: pod.uid });
    expect(h.vast.live()).toEqual([]);
    expect(h.cluster.pod('default', pod.name)).toBeUndefined();
    expect(written).toEqual([expect.stringMatching(/^Failed:.*"exitCode":143/)]);
  });

  it('an agent that never answers: the machine is destroyed once the grace and the margin are over', async () => {
    const h = agentHarness();
    const { pod } = await runningPod(h);
    h.cluster.requestDeletion(pod, new Date(h.now + 30_000).toISOString());
    h.tick(30_000 + h.config.stopMarginMs - 1);
    await h.pass();
    expect(h.vast.live()).toHaveLength(1);
    h.tick(2);
    await h.pass();
    expect(h.vast.live()).toEqual([]);
    expect(h.cluster.pod('default', pod.name)).toBeUndefined();
  });
});

describe('graceful deletion before the workload started', () => {
  it.each([
    { name: 'a failed agent', report: { state: 'failed', reason: 'tunnel never came up' } as const },
    { name: 'an agent still bringing up its tunnel (no start reported)', report: undefined },
  ])('$name: nothing to stop gracefully, the machine goes at once', async ({ report }) => {
    const h = agentHarness();
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    h.tick(MINUTE);
    h.vast.advance();
    const backend = backendOf(h);
    await backend.saveStatusCredential(pod.uid, 'ab'.repeat(32));
    if (report !== undefined) await backend.recordStatus(pod.uid, report, { now: h.now });
    h.cluster.requestDeletion(pod, new Date(h.now + 30_000).toISOString());
    await h.pass();
    expect(h.vast.live()).toEqual([]);
    expect(h.cluster.pod('default', pod.name)).toBeUndefined();
  });
});

describe('activeDeadlineSeconds', () => {
  it('fails the pod with DeadlineExceeded and destroys its machine, whatever the restartPolicy', async () => {
    const h = agentHarness();
    const { pod } = await runningPod(h, { activeDeadlineSeconds: 600, restartPolicy: 'Always' });
    h.tick(10 * MINUTE);
    await h.pass();
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded' });
    expect(h.vast.live()).toEqual([]);
  });
});

describe('start problems under restartPolicy Always/OnFailure back off; only Never fails', () => {
  async function imageFault(h: Harness, restartPolicy: 'Always' | 'Never') {
    h.vast.offers = [anOffer(), anOffer(), anOffer()];
    const pod = h.cluster.addPod(gpuPod(1, { restartPolicy }));
    await h.pass();
    const id = (await h.store.getPod(pod.uid))?.instance?.id as string;
    h.vast.setState(id, { phase: 'failed', fault: 'image', reason: 'manifest unknown' });
    h.tick(MINUTE);
    await h.pass();
    return pod;
  }

  it('an image fault under Never: Failed, ImagePullError', async () => {
    const h = harness();
    const pod = await imageFault(h, 'Never');
    expect(h.cluster.pod('default', pod.name)?.status).toMatchObject({
      phase: 'Failed',
      reason: 'ImagePullError',
    });
  });

  it('an image fault under Always: Pending with ImagePullBackOff, nothing rented until the back-off is over, then one more rental', async () => {
    const h = harness();
    const pod = await imageFault(h, 'Always');
    const status = () => h.cluster.pod('default', pod.name)?.status;
    expect(status()?.phase).toBe('Pending');
    expect(status()?.containerStatuses[0]?.state).toMatchObject({ waiting: { reason: 'ImagePullBackOff' } });
    expect(h.vast.live()).toEqual([]);
    const rented = h.vast.calls.create;
    h.tick(4 * MINUTE);
    await h.pass();
    expect(h.vast.calls.create).toBe(rented);
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.calls.create).toBe(rented + 1);
    expect(await h.store.getPod(pod.uid)).toMatchObject({ attempts: 1, retryBackoffMs: 5 * MINUTE });
  });

  it('attempts exhausted under Always: ProvisioningBackOff, and the next back-off doubles', async () => {
    const h = harness({ maxAttempts: 1 });
    h.vast.offers = [anOffer(), anOffer(), anOffer(), anOffer()];
    const pod = h.cluster.addPod(gpuPod(1, { restartPolicy: 'Always' }));
    const failHost = async () => {
      await h.pass();
      const id = (await h.store.getPod(pod.uid))?.instance?.id as string;
      h.vast.setState(id, { phase: 'failed', fault: 'host', reason: 'no GPU' });
      h.tick(MINUTE);
      await h.pass();
    };
    await failHost();
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.phase).toBe('Pending');
    expect(status?.containerStatuses[0]?.state).toMatchObject({ waiting: { reason: 'ProvisioningBackOff' } });
    h.tick(5 * MINUTE);
    await failHost();
    expect(await h.store.getPod(pod.uid)).toMatchObject({ retryBackoffMs: 10 * MINUTE });
    expect(h.vast.live()).toEqual([]);
  });
});

describe('advisories on first sight (ADR 0012, 0013)', () => {
  it("a DaemonSet's pod: never rented, Pending with DaemonSetPodNotRun, one warning", async () => {
    const h = harness();
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod(gpuPod(1, { controllerKind: 'DaemonSet' }));
    await h.pass();
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.calls.create).toBe(0);
    expect(h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state).toMatchObject({
      waiting: { reason: 'DaemonSetPodNotRun' },
    });
    expect(h.cluster.events(pod).filter((e) => e.reason === 'DaemonSetPodNotRun')).toEqual([
      expect.objectContaining({ count: 1 }),
    ]);
  });

  it('a pod an outage would evict: rented as usual, warned once', async () => {
    const h = harness();
    h.vast.offers = [anOffer(), anOffer()];
    const pod = h.cluster.addPod(
      gpuPod(1, {
        tolerations: [
          {
            key: 'node.kubernetes.io/unreachable',
            operator: 'Exists',
            effect: 'NoExecute',
            tolerationSeconds: 300,
          },
        ],
      }),
    );
    await h.pass();
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.calls.create).toBe(1);
    expect(h.cluster.events(pod).filter((e) => e.reason === 'OutageEvictionRisk')).toEqual([
      expect.objectContaining({ count: 1 }),
    ]);
  });
});
