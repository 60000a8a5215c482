import { AppsV1Api, BatchV1Api, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { createTestNamespace, eventually, type TestNamespace } from '../../support/index.ts';
import { GROUND_BACKOFF } from './agent-ground.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntil } from './pods.ts';

// Issue #13 on the real control plane (kube-apiserver, scheduler, controller-manager) with the
// real agent on simulated machines that really run: restarts in place on kubelet's back-off
// (the ground shortens it to GROUND_BACKOFF), a lost machine replaced once, graceful deletion
// (SIGTERM trapped, grace expiry), probes, and a Job whose podFailurePolicy retries a host
// loss without spending its backoffLimit.

const sh = (script: string) => ['sh', '-c', script];

/** A pod template for this ground's node running `command` under `restartPolicy`. */
function aPod(
  ground: ReconcileGround,
  name: string,
  command: string[],
  restartPolicy: 'Always' | 'Never',
): V1Pod {
  const pod = aGpuPod(ground, name, { restartPolicy });
  const main = pod.spec?.containers[0];
  if (main !== undefined) main.command = command;
  return pod;
}

/** The one pod of a controller (Deployment or Job) in `ns`, once it exists. */
async function podOf(ns: TestNamespace, label: string, ground: ReconcileGround): Promise<V1Pod> {
  return eventually(
    async () => {
      await ground.pass();
      const pods = (await ns.core.listNamespacedPod({ namespace: ns.name, labelSelector: label })).items;
      return pods.find((p) => p.metadata?.deletionTimestamp === undefined);
    },
    { what: `a pod with ${label}`, timeoutMs: 30_000, intervalMs: 300 },
  );
}

/** Passes (and the machines' play) until the pod `name` satisfies `check`. */
function until(
  ground: ReconcileGround,
  ns: TestNamespace,
  name: string,
  what: string,
  check: (pod: V1Pod) => boolean,
) {
  return passUntil(ground, ns, name, { what, check });
}

describe('lifecycle on vastai (issue #13)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', { offers: 100 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('a Deployment whose container exits 1: one machine, restarts in place on the back-off schedule, CrashLoopBackOff; a lost machine is replaced once', async () => {
    const ns = await createTestNamespace('e2e-crashloop');
    const apps = ns.kubeConfig.makeApiClient(AppsV1Api);
    const template = aPod(ground, 'x', sh('echo crashing; sleep 1; exit 1'), 'Always');
    const creates = ground.sim.requestCount('create');
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: 'crashloop' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'crashloop' } },
          template: { metadata: { labels: { app: 'crashloop' } }, spec: template.spec as V1PodSpec },
        },
      },
    });
    const first = await podOf(ns, 'app=crashloop', ground);
    const name = first.metadata?.name as string;
    const uid = first.metadata?.uid as string;

    const backedOff = await until(ground, ns, name, 'restartCount ≥ 4 and CrashLoopBackOff', (pod) => {
      const c = pod.status?.containerStatuses?.[0];
      return (c?.restartCount ?? 0) >= 4 && c?.state?.waiting?.reason === 'CrashLoopBackOff';
    });
    const container = backedOff.status?.containerStatuses?.[0];
    expect(backedOff.status?.phase).toBe('Running');
    expect(container?.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect(container?.state?.waiting?.message).toMatch(/^back-off \ds restarting failed container=main pod=/);
    expect(container?.containerID).toMatch(/^anex:\/\/vastai\//);
    // kubelet's schedule, shortened: the first restart at once, then 1 s doubling to the 4 s cap.
    const waits = new Map<number, number>();
    for (const { podUid, report } of ground.agents.reports) {
      if (podUid === uid && report.state === 'exited' && report.restartInSeconds !== undefined)
        waits.set(report.restartCount ?? 0, report.restartInSeconds);
    }
    expect([...waits.values()].slice(0, 4)).toEqual([
      0,
      GROUND_BACKOFF.initialSeconds,
      2,
      GROUND_BACKOFF.maxSeconds,
    ]);
    expect(ground.sim.requestCount('create') - creates).toBe(1);
    expect(await eventLines(ns.core, ns.name, uid)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^BackOff: Back-off restarting failed container/)]),
    );

    // The host drops off: one new machine, the lost run in lastState, still the same pod.
    const lostId = (await ground.deps.store.getPod(uid))?.instance?.id as string;
    const restartsBefore = container?.restartCount ?? 0;
    (ground.sim as VastAiSim).loseHost(lostId);
    await until(ground, ns, name, 'running again on a new machine', (pod) => {
      const c = pod.status?.containerStatuses?.[0];
      return (
        c?.containerID !== undefined &&
        !c.containerID.endsWith(`/${lostId}`) &&
        (c.restartCount ?? 0) > restartsBefore
      );
    });
    expect(ground.sim.requestCount('create') - creates).toBe(2);
    expect(liveInstances(ground).map((i) => i.id)).not.toContain(lostId);

    await apps.deleteNamespacedDeployment({ namespace: ns.name, name: 'crashloop' });
    await deleteAndDrain(ground, ns);
  });

  it.each([
    {
      what: 'traps SIGTERM and writes its checkpoint',
      script:
        "trap 'echo saved > /tmp/checkpoint; cat /tmp/checkpoint; exit 0' TERM; echo up; while :; do sleep 0.2; done",
      grace: 20,
      exitCode: 0,
      printed: 'saved',
    },
    {
      what: 'ignores SIGTERM and is killed when the grace expires',
      script: "trap '' TERM; echo up; while :; do sleep 0.2; done",
      grace: 2,
      exitCode: 137,
      printed: 'up',
    },
  ])(
    'kubectl delete on a process that $what: the exit is reported, then the machine is destroyed',
    async ({ script, grace, exitCode, printed }) => {
      const ns = await createTestNamespace('e2e-graceful');
      const pod = aPod(ground, 'worker', sh(script), 'Never');
      const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: pod });
      const uid = created.metadata?.uid as string;
      await until(ground, ns, 'worker', 'Running', (p) => p.status?.phase === 'Running');
      const instanceId = (await ground.deps.store.getPod(uid))?.instance?.id as string;

      await ns.core.deleteNamespacedPod({ namespace: ns.name, name: 'worker', gracePeriodSeconds: grace });
      await eventually(
        async () => {
          await ground.pass();
          const gone = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'worker' }).then(
            () => false,
            () => true,
          );
          return gone && !liveInstances(ground).some((i) => i.id === instanceId) ? true : undefined;
        },
        { what: 'the pod removed and its machine destroyed', timeoutMs: 60_000, intervalMs: 300 },
      );
      const final = ground.agents.reports.filter((r) => r.podUid === uid && r.report.state === 'exited');
      expect(final.at(-1)?.report).toMatchObject({ state: 'exited', exitCode });
      expect(final.at(-1)?.report.restartInSeconds).toBeUndefined();
      const log = ground.agents.runner.logOf(`vastai/${instanceId}`);
      expect(log).toContain(printed);
    },
  );

  it('readiness and liveness probes drive Ready and restarts in place', async () => {
    const ns = await createTestNamespace('e2e-probes');
    const pod = aPod(
      ground,
      'probed',
      // Ready after 1 s; sick after 4 s, so liveness restarts it (each run starts healthy again).
      sh(
        'rm -f /tmp/ready /tmp/sick; sleep 1; touch /tmp/ready; sleep 3; touch /tmp/sick; while :; do sleep 0.2; done',
      ),
      'Never',
    );
    const main = pod.spec?.containers[0];
    if (pod.spec !== undefined) pod.spec.restartPolicy = 'Always';
    if (main !== undefined) {
      main.readinessProbe = {
        exec: { command: sh('test -f /tmp/ready') },
        periodSeconds: 1,
        failureThreshold: 1,
      };
      main.livenessProbe = {
        exec: { command: sh('test ! -f /tmp/sick') },
        periodSeconds: 1,
        failureThreshold: 2,
      };
    }
    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: pod });
    const uid = created.metadata?.uid as string;
    const ready = (p: V1Pod) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    await until(
      ground,
      ns,
      'probed',
      'Running, not Ready yet',
      (p) => p.status?.phase === 'Running' && ready(p) === 'False',
    );
    await until(ground, ns, 'probed', 'Ready', (p) => ready(p) === 'True');
    await until(
      ground,
      ns,
      'probed',
      'restarted by liveness',
      (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
    );
    const lines = await eventLines(ns.core, ns.name, uid);
    expect(lines).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Unhealthy: Liveness probe failed/)]),
    );
    await deleteAndDrain(ground, ns);
  });

  it('a Job with podFailurePolicy Ignore on DisruptionTarget retries a host loss without spending its backoffLimit', async () => {
    const ns = await createTestNamespace('e2e-job');
    const batch = ns.kubeConfig.makeApiClient(BatchV1Api);
    const template = aPod(ground, 'x', sh('echo training; while :; do sleep 0.2; done'), 'Never');
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: {
        metadata: { name: 'train' },
        spec: {
          backoffLimit: 0,
          podFailurePolicy: {
            rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }],
          },
          template: { metadata: { labels: { job: 'train' } }, spec: template.spec as V1PodSpec },
        },
      },
    });
    const first = await podOf(ns, 'job=train', ground);
    const name = first.metadata?.name as string;
    const uid = first.metadata?.uid as string;
    await until(ground, ns, name, 'Running', (p) => p.status?.phase === 'Running');
    const lostId = (await ground.deps.store.getPod(uid))?.instance?.id as string;
    (ground.sim as VastAiSim).loseHost(lostId);
    const failed = await until(
      ground,
      ns,
      name,
      'Failed with DisruptionTarget',
      (p) => p.status?.phase === 'Failed',
    );
    expect(failed.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toMatchObject({
      status: 'True',
    });
    // The Job controller ignores the failure: a second pod, and the Job is not failed.
    const second = await eventually(
      async () => {
        await ground.pass();
        const pods = (await ns.core.listNamespacedPod({ namespace: ns.name, labelSelector: 'job=train' }))
          .items;
        return pods.find((p) => p.metadata?.uid !== uid && p.status?.phase === 'Running');
      },
      { what: 'a replacement pod Running', timeoutMs: 60_000, intervalMs: 300 },
    );
    expect(second).toBeDefined();
    const job = await batch.readNamespacedJob({ namespace: ns.name, name: 'train' });
    expect(job.status?.failed ?? 0).toBe(0);
    expect(job.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True') ?? false).toBe(
      false,
    );
    await batch.deleteNamespacedJob({ namespace: ns.name, name: 'train', propagationPolicy: 'Background' });
    await deleteAndDrain(ground, ns);
  });
});
