import { randomBytes } from 'node:crypto';
import { CoreV1Api, type V1Node } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { runHeartbeat } from '../../../lib/kube/heartbeat.ts';
import { KubeCluster } from '../../../lib/kube/kube-cluster.ts';
import { virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';
import { adminKubeConfig, controlPlane, eventually } from '../../support/index.ts';

// runHeartbeat against the real kube-controller-manager's node-lifecycle controller, whose
// grace period the test ground shortens (NODE_MONITOR: 20 s instead of 50 s). Two nodes are
// registered together; only one is kept by runHeartbeat. The controller must mark the other
// Ready=Unknown while the kept one stays Ready — on its Lease alone, since runHeartbeat writes
// the node status once per run — and a new run must bring the stopped one back.

const suffix = randomBytes(3).toString('hex');
const kept = virtualNodeSpec('runpod', `anex-hb-kept-${suffix}`);
const stopped = virtualNodeSpec('runpod', `anex-hb-stopped-${suffix}`);
const kubeConfig = adminKubeConfig();
const core = kubeConfig.makeApiClient(CoreV1Api);
const cluster = new KubeCluster({ kubeConfig });

afterAll(async () => {
  for (const name of [kept.name, stopped.name]) {
    await core.deleteNode({ name }).catch((error: { code?: number }) => {
      if (error.code !== 404) throw error;
    });
  }
});

async function readyOf(name: string): Promise<{ status: string; heartbeat: number; taints: string[] }> {
  const node: V1Node = await core.readNode({ name });
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    status: ready?.status ?? 'missing',
    heartbeat: ready?.lastHeartbeatTime?.getTime() ?? 0,
    taints: (node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`),
  };
}

describe('runHeartbeat with the real node-lifecycle controller', () => {
  it('keeps a renewed node Ready past the grace period while a stopped one goes NotReady, then recovers it', async () => {
    const graceMs = controlPlane().nodeMonitor.gracePeriodSeconds * 1000;
    const start = Date.now();
    const run = runHeartbeat({
      cluster,
      nodes: [kept],
      intervalMs: graceMs / 4,
      until: start + graceMs * 2.5,
      now: Date.now,
    });
    // The stopped node gets exactly what one run gives it before "its function stops".
    const once = await runHeartbeat({ cluster, nodes: [stopped], until: Date.now() + 1, now: Date.now });
    expect(once.failures).toEqual([]);

    const unknown = await eventually(
      async () => {
        // The controller writes Ready=Unknown first and adds the NoSchedule taint from a
        // separate work queue afterwards, so one read can see the condition without the taint.
        const state = await readyOf(stopped.name);
        return state.status === 'Unknown' &&
          state.taints.includes('node.kubernetes.io/unreachable:NoSchedule')
          ? state
          : undefined;
      },
      {
        what: `${stopped.name} Ready=Unknown with the unreachable:NoSchedule taint`,
        timeoutMs: graceMs * 4,
        describe: async () => JSON.stringify(await readyOf(stopped.name)),
      },
    );
    expect(unknown.taints).toContain('node.kubernetes.io/unreachable:NoSchedule');
    const meanwhile = await readyOf(kept.name);
    expect(meanwhile.status).toBe('True');
    expect(meanwhile.taints.filter((t) => t.startsWith('node.kubernetes.io/'))).toEqual([]);

    const report = await run;
    expect(report.failures).toEqual([]);
    expect(report.beats).toBeGreaterThanOrEqual(9);
    const after = await readyOf(kept.name);
    expect(after.status).toBe('True');
    // Ready's own heartbeat did not move between the two reads, more than a grace period apart:
    // runHeartbeat writes node status once per run, so the Lease alone kept the node alive.
    expect(after.heartbeat).toBe(meanwhile.heartbeat);

    await runHeartbeat({ cluster, nodes: [stopped], until: Date.now() + 1, now: Date.now });
    const recovered = await eventually(
      async () => {
        const state = await readyOf(stopped.name);
        return state.status === 'True' && !state.taints.some((t) => t.startsWith('node.kubernetes.io/'))
          ? state
          : undefined;
      },
      {
        what: `${stopped.name} Ready again without unreachable taints`,
        timeoutMs: graceMs * 2,
        describe: async () => JSON.stringify(await readyOf(stopped.name)),
      },
    );
    expect(recovered.status).toBe('True');
  });
});
