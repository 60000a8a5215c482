import { describe, expect, it } from 'vitest';
import type { PodEventMessage, PodEventSink } from '../../../lib/admission/pod-event.ts';
import { ReconcilerAgentBackend } from '../../../lib/reconcile/agent-backend.ts';
import { anOffer, gpuPod, type Harness, harness, MINUTE } from './harness.ts';

function backendOf(h: Harness, passes?: PodEventSink): ReconcilerAgentBackend {
  return new ReconcilerAgentBackend({
    store: h.store,
    cluster: h.cluster,
    transport: { vastai: 'udp', runpod: 'wstunnel' },
    clock: () => h.now,
    ...(passes === undefined ? {} : { passes }),
  });
}

/** A sink that keeps what it was sent, or refuses everything. */
function aSink(refuse = false) {
  const sent: PodEventMessage[] = [];
  const sink: PodEventSink = {
    send: async (message) => {
      if (refuse) throw new Error('queue unavailable');
      sent.push(message);
    },
  };
  return { sent, sink };
}

/** A pod whose instance is rented and starting (the provider does not say running yet). */
async function startingPod(h: Harness, extra: Parameters<typeof gpuPod>[1] = {}) {
  h.vast.offers = [anOffer()];
  const pod = h.cluster.addPod(
    gpuPod(1, {
      containers: [
        { name: 'main', image: 'img:1', command: ['python'], args: ['train.py'], env: { EPOCHS: '3' } },
      ],
      ...extra,
    }),
  );
  await h.pass();
  return pod;
}

describe('ReconcilerAgentBackend', () => {
  it('hands the agent the pod command, args, env, restart policy and transport', async () => {
    const h = harness();
    const pod = await startingPod(h, { restartPolicy: 'OnFailure' });
    expect(await backendOf(h).getLaunch(pod.uid)).toEqual({
      podUid: pod.uid,
      transport: 'udp',
      command: ['python'],
      args: ['train.py'],
      env: { EPOCHS: '3' },
      restartPolicy: 'OnFailure',
    });
  });

  it("hands the app container's declared TCP ports (ADR 0023: all port-forward may reach)", async () => {
    const h = harness();
    const pod = await startingPod(h, {
      containers: [{ name: 'main', image: 'img:1', command: ['serve'], env: {}, ports: [8080, 9090] }],
    });
    expect((await backendOf(h).getLaunch(pod.uid))?.ports).toEqual([8080, 9090]);
  });

  it("hands the gateway destinations of the pod's anex.sh/allow-egress (ADR 0020)", async () => {
    const h = harness();
    const pod = await startingPod(h, {
      annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/allow-egress': 'web:80, db.data:5432' },
    });
    expect((await backendOf(h).getLaunch(pod.uid))?.allowEgress).toEqual([
      'web.default.svc:80',
      'db.data.svc:5432',
    ]);
  });

  it('keeps only the credential hash on the pod record', async () => {
    const h = harness();
    const pod = await startingPod(h);
    const backend = backendOf(h);
    await backend.saveStatusCredential(pod.uid, 'ab'.repeat(32));
    expect(await backend.getStatusCredentialHash(pod.uid)).toBe('ab'.repeat(32));
  });

  it('shows Running as soon as the agent reports the start, idempotently', async () => {
    const h = harness();
    const pod = await startingPod(h);
    const backend = backendOf(h);
    h.tick(10_000);
    await backend.recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    await backend.recordStatus(pod.uid, { state: 'started' }, { now: h.now + 5_000 });
    expect(h.cluster.pod('default', pod.name)?.status?.phase).toBe('Running');
    expect(await h.store.getPod(pod.uid)).toMatchObject({ stage: 'running', startedAt: h.now });
    expect(h.cluster.events(pod).filter((e) => e.reason === 'Started')).toHaveLength(1);
  });

  it('turns a reported exit into a finished pod and a destroyed instance on the next pass', async () => {
    const h = harness();
    const pod = await startingPod(h);
    const backend = backendOf(h);
    await backend.recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    await backend.recordStatus(pod.uid, { state: 'exited', exitCode: 2 }, { now: h.now });
    h.tick(MINUTE);
    await h.pass();
    expect(h.vast.live()).toEqual([]);
    expect(h.cluster.pod('default', pod.name)?.status?.containerStatuses[0]?.state).toMatchObject({
      terminated: { exitCode: 2 },
    });
    expect((await backend.liveness(pod.uid)).alive).toBe(false);
    expect(await backend.getLaunch(pod.uid)).toBeUndefined();
  });

  it("asks for the pod's own pass (agent-status) once an exit is recorded, not for a start", async () => {
    const h = harness();
    const pod = await startingPod(h);
    const { sent, sink } = aSink();
    const backend = backendOf(h, sink);
    await backend.recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    expect(sent).toEqual([]);
    await backend.recordStatus(pod.uid, { state: 'exited', exitCode: 0 }, { now: h.now });
    expect(sent).toEqual([{ podUid: pod.uid, namespace: 'default', name: pod.name, cause: 'agent-status' }]);
    // That one pass destroys the instance and finishes the pod (no minute tick in between).
    await h.pass({ podUid: pod.uid });
    expect(h.vast.live()).toEqual([]);
    expect(h.cluster.pod('default', pod.name)?.status?.phase).toBe('Succeeded');
  });

  it('records the exit even when the pass cannot be asked for (the tick catches up)', async () => {
    const h = harness();
    const pod = await startingPod(h);
    const backend = backendOf(h, aSink(true).sink);
    await backend.recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    await backend.recordStatus(pod.uid, { state: 'exited', exitCode: 4 }, { now: h.now });
    expect(await h.store.getPod(pod.uid)).toMatchObject({ exitCode: 4 });
  });

  it('tells the agent to stop once the pod is being deleted', async () => {
    const h = harness();
    const pod = await startingPod(h);
    const backend = backendOf(h);
    expect((await backend.liveness(pod.uid)).alive).toBe(true);
    h.cluster.requestDeletion(pod);
    expect((await backend.liveness(pod.uid)).alive).toBe(false);
  });
});
