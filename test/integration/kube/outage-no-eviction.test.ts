import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type V1Pod, type V1Toleration } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { runHeartbeat } from '../../../lib/kube/heartbeat.ts';
import { KubeCluster } from '../../../lib/kube/kube-cluster.ts';
import { outageEvictionRisks } from '../../../lib/kube/outage-tolerations.ts';
import { virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';
import { outageRepair } from '../../../lib/local/outage-repair.ts';
import { adminKubeConfig, controlPlane, createTestNamespace, eventually } from '../../support/index.ts';

// An anex outage against the real kube-controller-manager (node-monitor-grace-period shortened
// to NODE_MONITOR's 20 s): the virtual node's heartbeat stops for 10 × the grace period. The
// node lifecycle controller marks it Unknown and taints it unreachable:NoExecute; the taint
// manager evicts a pod that tolerates the taint for 2 s — proof that evictions really happen
// here (a second, healthy node keeps the zone out of "full disruption", where nothing is
// evicted) — but never the pod whose outage tolerations local mode's repair made permanent
// (the same tolerations the AWS webhook writes: test/integration/admission). When the
// heartbeat returns the node is Ready again and the pod is still there.

const suffix = randomBytes(3).toString('hex');
const outage = virtualNodeSpec('vastai', `anex-outage-${suffix}`);
const healthy = virtualNodeSpec('runpod', `anex-healthy-${suffix}`);
const kubeConfig = adminKubeConfig();
const core = kubeConfig.makeApiClient(CoreV1Api);
const cluster = new KubeCluster({ kubeConfig });
const stops: AbortController[] = [];

afterAll(async () => {
  for (const stop of stops) stop.abort();
  for (const name of [outage.name, healthy.name]) {
    await core.deleteNode({ name }).catch((error: { code?: number }) => {
      if (error.code !== 404) throw error;
    });
  }
});

/** Keeps a node's Lease renewed until the returned controller is aborted. */
function keepAlive(node: typeof outage, graceMs: number): { stop: AbortController; done: Promise<unknown> } {
  const stop = new AbortController();
  stops.push(stop);
  const done = runHeartbeat({
    cluster,
    nodes: [node],
    intervalMs: graceMs / 4,
    until: Date.now() + 3_600_000,
    signal: stop.signal,
    now: Date.now,
  });
  return { stop, done };
}

function aPodOn(name: string, tolerations?: V1Toleration[]): V1Pod {
  return {
    metadata: { name },
    spec: {
      nodeName: outage.name,
      nodeSelector: { 'node-provider': 'vastai' },
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'example/trainer:1' }],
      ...(tolerations === undefined ? {} : { tolerations }),
    },
  };
}

const brief = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'].map((key) => ({
  key,
  operator: 'Exists',
  effect: 'NoExecute',
  tolerationSeconds: 2,
}));

describe('an anex outage of 10 × the node grace period', () => {
  it('evicts no pod with the outage tolerations (a pod tolerating 2 s is evicted meanwhile)', {
    timeout: 480_000,
  }, async () => {
    const graceMs = controlPlane().nodeMonitor.gracePeriodSeconds * 1000;
    const ns = await createTestNamespace('outage');
    const healthyBeat = keepAlive(healthy, graceMs);
    let outageBeat = keepAlive(outage, graceMs);
    await eventually(async () => ((await core.readNode({ name: outage.name })).metadata ? true : undefined), {
      what: `node ${outage.name} registered`,
    });

    await ns.core.createNamespacedPod({ namespace: ns.name, body: aPodOn('kept') });
    const repair = outageRepair({
      kubeConfig,
      nodeSelectorKey: 'node-provider',
      nodeSelectorValues: ['vastai'],
    });
    expect(await repair.repair({ namespace: ns.name, name: 'kept' })).toBe('patched');
    await ns.core.createNamespacedPod({ namespace: ns.name, body: aPodOn('brief', brief) });

    // The outage: anex stops renewing the node's Lease.
    outageBeat.stop.abort();
    await outageBeat.done;
    const outageStarted = Date.now();
    await eventually(
      async () => {
        const taints = (await core.readNode({ name: outage.name })).spec?.taints ?? [];
        return taints.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute')
          ? true
          : undefined;
      },
      { what: `${outage.name} tainted unreachable:NoExecute`, timeoutMs: graceMs * 6 },
    );
    await eventually(
      async () => {
        const pod = await ns.core
          .readNamespacedPod({ namespace: ns.name, name: 'brief' })
          .catch(() => undefined);
        return pod === undefined || pod.metadata?.deletionTimestamp !== undefined ? true : undefined;
      },
      {
        what: 'the taint manager evicting the pod that tolerates the outage for 2 s',
        timeoutMs: graceMs * 3,
      },
    );

    await sleep(Math.max(0, outageStarted + graceMs * 10 - Date.now()));
    const kept = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'kept' });
    expect(kept.metadata?.deletionTimestamp).toBeUndefined();
    expect(kept.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toBeUndefined();
    expect(outageEvictionRisks(kept.spec?.tolerations as never)).toEqual([]);
    const node = await core.readNode({ name: outage.name });
    expect(node.spec?.taints?.map((t) => `${t.key}:${t.effect}`)).toContain(
      'node.kubernetes.io/unreachable:NoExecute',
    );

    // anex is back: the node turns Ready, the lifecycle taints go, the pod is still there.
    outageBeat = keepAlive(outage, graceMs);
    await eventually(
      async () => {
        const back = await core.readNode({ name: outage.name });
        const ready = back.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        return ready && !(back.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'))
          ? true
          : undefined;
      },
      { what: `${outage.name} Ready again without lifecycle taints`, timeoutMs: graceMs * 3 },
    );
    const after = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'kept' });
    expect(after.metadata?.uid).toBe(kept.metadata?.uid);
    expect(after.metadata?.deletionTimestamp).toBeUndefined();
    outageBeat.stop.abort();
    healthyBeat.stop.abort();
    await Promise.all([outageBeat.done, healthyBeat.done]);
  });
});
