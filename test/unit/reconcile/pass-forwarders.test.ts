import { describe, expect, it } from 'vitest';
import { ReconcilerAgentBackend } from '../../../lib/reconcile/agent-backend.ts';
import {
  FORWARDER_POD_UID_LABEL,
  type ForwardingConfig,
  forwarderManifest,
  forwarderName,
} from '../../../lib/reconcile/forwarders.ts';
import { agentHarness, anOffer, gpuPod, type Harness, MINUTE, uid } from './harness.ts';

// ADR 0024 in the pass: forwarders are made for launched pods with declared ports, their IP
// becomes the pod's podIP, no other status write touches it, and they go with their pods.

const forwarding: ForwardingConfig = {
  namespace: 'anex-system',
  image: 'ghcr.io/anex/gateway:1',
  kubeletUrl: 'https://anex-kubelet.anex-system.svc:10250',
  serviceAccount: 'anex-forwarder',
  audience: 'anex-kubelet',
};

function backendOf(h: Harness, withForwarding: boolean): ReconcilerAgentBackend {
  return new ReconcilerAgentBackend({
    store: h.store,
    cluster: h.cluster,
    transport: { vastai: 'udp', runpod: 'wstunnel' },
    clock: () => h.now,
    ...(withForwarding ? { forwarding: true } : {}),
  });
}

const servingPod = (n: number) =>
  gpuPod(n, {
    restartPolicy: 'Always',
    containers: [{ name: 'main', image: 'vllm/vllm-openai:v0.6', command: ['vllm', 'serve'], ports: [8000] }],
  });

/** Rents for one serving pod and brings its machine up; the agent has not reported yet. */
async function launchedPod(h: Harness, n = 1) {
  h.vast.offers = [anOffer(), anOffer()];
  const pod = h.cluster.addPod(servingPod(n));
  await h.pass();
  h.tick(MINUTE);
  h.vast.advance();
  return pod;
}

describe('runPass with forwarding (ADR 0024)', () => {
  it('makes the forwarder, gives the pod its IP, keeps it through status writes, and removes it with the pod', async () => {
    const h = agentHarness({ forwarding });
    const pod = await launchedPod(h);
    const name = forwarderName(pod.uid);

    const second = await h.pass();
    expect(second.forwarders).toEqual({ created: 1, deleted: 0, addressed: 0 });
    expect(h.cluster.createdPod('anex-system', name)?.manifest).toEqual(
      forwarderManifest(forwarding, h.cluster.pod(pod.namespace, pod.name) ?? pod),
    );
    expect(h.cluster.pod(pod.namespace, pod.name)?.status?.podIP).toBeUndefined();

    h.cluster.setCreatedPodStatus('anex-system', name, { phase: 'Running', podIP: '10.244.3.4' });
    expect((await h.pass()).forwarders).toEqual({ created: 0, deleted: 0, addressed: 1 });
    expect(h.cluster.pod(pod.namespace, pod.name)?.status?.podIP).toBe('10.244.3.4');

    // The agent's start goes straight to the status; it leaves the forwarder's address.
    await backendOf(h, true).recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    const running = h.cluster.pod(pod.namespace, pod.name)?.status;
    expect(running).toMatchObject({ phase: 'Running', podIP: '10.244.3.4' });

    h.tick(MINUTE);
    const quiet = await h.pass();
    expect(quiet.statusWrites).toBe(0);
    expect(quiet.forwarders).toEqual({ created: 0, deleted: 0, addressed: 0 });
    expect(h.cluster.calls.setPodIP).toBe(1);

    // A forwarder that died is replaced; the new one's IP is written over the old.
    h.cluster.setCreatedPodStatus('anex-system', name, { phase: 'Failed' });
    expect((await h.pass()).forwarders).toEqual({ created: 0, deleted: 1, addressed: 0 });
    expect((await h.pass()).forwarders).toEqual({ created: 1, deleted: 0, addressed: 0 });
    h.cluster.setCreatedPodStatus('anex-system', name, { phase: 'Running', podIP: '10.244.7.8' });
    await h.pass();
    expect(h.cluster.pod(pod.namespace, pod.name)?.status?.podIP).toBe('10.244.7.8');

    h.cluster.requestDeletion(pod);
    const deleting = await h.pass();
    expect(deleting.forwarders?.deleted).toBe(1);
    expect(h.cluster.createdPod('anex-system', name)).toBeUndefined();
    expect(deleting.errors).toEqual([]);
  });

  it('makes none for a pod without declared ports, which keeps no podIP', async () => {
    const h = agentHarness({ forwarding });
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    h.tick(MINUTE);
    h.vast.advance();
    await h.pass();
    await backendOf(h, true).recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    await h.pass();
    expect(h.cluster.calls.createPod).toBe(0);
    expect(h.cluster.pod(pod.namespace, pod.name)?.status).toMatchObject({ phase: 'Running' });
    expect(h.cluster.pod(pod.namespace, pod.name)?.status?.podIP).toBeUndefined();
  });

  it('collects an orphan forwarder on a full pass only, and not while a node’s pods are unlisted', async () => {
    const h = agentHarness({ forwarding });
    const pod = await launchedPod(h);
    const orphan = forwarderManifest(forwarding, { ...pod, uid: uid(99), name: 'gone' });
    await h.cluster.createPod(orphan);
    const orphanName = orphan.metadata.name;

    await h.pass({ podUid: pod.uid });
    expect(h.cluster.createdPod('anex-system', orphanName)).toBeDefined();
    expect(h.cluster.createdPod('anex-system', forwarderName(pod.uid))).toBeDefined();

    h.cluster.failNext('listPods');
    const blind = await h.pass();
    expect(blind.errors.map((e) => e.scope)).toContain('list pods on node anex-vastai');
    expect(h.cluster.createdPod('anex-system', orphanName)).toBeDefined();

    const full = await h.pass();
    expect(full.forwarders?.deleted).toBe(1);
    expect(h.cluster.createdPod('anex-system', orphanName)).toBeUndefined();
    expect(h.cluster.createdPod('anex-system', forwarderName(pod.uid))?.labels[FORWARDER_POD_UID_LABEL]).toBe(
      pod.uid,
    );
  });

  it('reports a failed forwarder list in the pass errors and goes on', async () => {
    const h = agentHarness({ forwarding });
    await launchedPod(h);
    h.cluster.failNext('listLabelledPods');
    const summary = await h.pass();
    expect(summary.errors).toEqual([
      expect.objectContaining({ scope: 'list forwarders in namespace anex-system', kind: 'unavailable' }),
    ]);
    expect(summary.forwarders).toEqual({ created: 0, deleted: 0, addressed: 0 });
  });
});

describe('runPass without forwarding', () => {
  it('keeps the VPN address as podIP and makes no forwarder calls', async () => {
    const h = agentHarness();
    const pod = await launchedPod(h);
    await h.pass();
    await backendOf(h, false).recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    const summary = await h.pass();
    expect(summary).not.toHaveProperty('forwarders');
    expect(h.cluster.pod(pod.namespace, pod.name)?.status?.podIP).toMatch(/^10\.77\.0\.\d+$/);
    expect(h.cluster.calls.listLabelledPods + h.cluster.calls.createPod).toBe(0);
  });
});
