import { describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import type { Cluster } from '../../../lib/kube/cluster.ts';
import { runHeartbeat } from '../../../lib/kube/heartbeat.ts';
import { MemoryCluster } from '../../../lib/kube/memory-cluster.ts';
import { virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';

const T0 = 1_800_000_000_000;
const nodes = [virtualNodeSpec('vastai', 'anex-vastai'), virtualNodeSpec('runpod', 'anex-runpod')];

/** A clock that only moves when the heartbeat sleeps (plus `callMs` per cluster call). */
function fakeClock(callMs = 0) {
  let time = T0;
  const renewals: number[] = [];
  return {
    now: () => time,
    sleep: async (ms: number) => {
      time += ms;
    },
    tick: () => {
      time += callMs;
    },
    renewals,
  };
}

/** Wraps a MemoryCluster so every renewal is timestamped and costs `callMs` of fake time. */
function timedCluster(clock: ReturnType<typeof fakeClock>): { cluster: Cluster; memory: MemoryCluster } {
  const memory = new MemoryCluster();
  const cluster = delegate(memory);
  cluster.renewNodeLease = async (name, options) => {
    clock.renewals.push(options.now - T0);
    clock.tick();
    return memory.renewNodeLease(name, options);
  };
  return { cluster, memory };
}

/** A Cluster forwarding to `target`, whose methods a test may replace one by one. */
function delegate(target: Cluster): Cluster {
  return {
    ensureNode: (...args) => target.ensureNode(...args),
    renewNodeLease: (...args) => target.renewNodeLease(...args),
    listPods: (...args) => target.listPods(...args),
    getPod: (...args) => target.getPod(...args),
    updatePodStatus: (...args) => target.updatePodStatus(...args),
    annotatePod: (...args) => target.annotatePod(...args),
    recordEvent: (...args) => target.recordEvent(...args),
    finalizePod: (...args) => target.finalizePod(...args),
    readEnvSource: (...args) => target.readEnvSource(...args),
    readSourceFiles: (...args) => target.readSourceFiles(...args),
    readPullSecret: (...args) => target.readPullSecret(...args),
    listLabelledPods: (...args) => target.listLabelledPods(...args),
    createPod: (...args) => target.createPod(...args),
    deletePod: (...args) => target.deletePod(...args),
    setPodIP: (...args) => target.setPodIP(...args),
  };
}

describe('runHeartbeat', () => {
  it.each([
    ['a 60 s window', 60_000, 6],
    ['a 65 s window (overlapping the next tick)', 65_000, 7],
    ['a window shorter than one interval', 5_000, 1],
  ])('renews every node every 10 s over %s', async (_, windowMs, beats) => {
    const clock = fakeClock();
    const { cluster, memory } = timedCluster(clock);
    const report = await runHeartbeat({
      cluster,
      nodes,
      until: T0 + windowMs,
      now: clock.now,
      sleep: clock.sleep,
    });
    expect(report).toEqual({ beats, renewed: beats * 2, failures: [] });
    expect(memory.calls.ensureNode).toBe(2);
    expect(memory.lease('anex-vastai')?.durationSeconds).toBe(40);
    expect(new Set(clock.renewals).size).toBe(beats);
  });

  it('keeps a fixed cadence when calls are slow', async () => {
    const clock = fakeClock(3_000);
    const { cluster } = timedCluster(clock);
    await runHeartbeat({
      cluster,
      nodes: nodes.slice(0, 1),
      until: T0 + 30_000,
      now: clock.now,
      sleep: clock.sleep,
    });
    expect(clock.renewals).toEqual([0, 10_000, 20_000]);
  });

  it('reports failures and keeps beating when the API fails', async () => {
    const clock = fakeClock();
    const { cluster, memory } = timedCluster(clock);
    memory.failNext('ensureNode');
    const denied = new AnexError('forbidden', { kind: 'auth' });
    let failures = 0;
    const flaky = delegate(cluster);
    flaky.renewNodeLease = async (name, options) => {
      if (name === 'anex-runpod' && failures++ < 2) throw denied;
      return cluster.renewNodeLease(name, options);
    };
    const report = await runHeartbeat({
      cluster: flaky,
      nodes,
      until: T0 + 30_000,
      now: clock.now,
      sleep: clock.sleep,
    });
    expect(report.beats).toBe(3);
    expect(report.renewed).toBe(4);
    expect(report.failures.map((f) => [f.node, f.step])).toEqual([
      ['anex-vastai', 'ensure-node'],
      ['anex-runpod', 'renew-lease'],
      ['anex-runpod', 'renew-lease'],
    ]);
    // the failed status refresh was retried on the next beat
    expect(memory.calls.ensureNode).toBe(3);
    expect(memory.node('anex-vastai')?.readyHeartbeat).toBe(T0 + 10_000);
    expect(memory.lease('anex-runpod')?.renewTime).toBe(T0 + 20_000);
  });

  it('stops at once when the signal aborts', async () => {
    const clock = fakeClock();
    const { cluster } = timedCluster(clock);
    const controller = new AbortController();
    const sleep = async (ms: number) => {
      await clock.sleep(ms);
      if (clock.now() - T0 >= 20_000) controller.abort();
    };
    const report = await runHeartbeat({
      cluster,
      nodes,
      until: T0 + 60_000,
      now: clock.now,
      sleep,
      signal: controller.signal,
    });
    expect(report.beats).toBe(2);
  });

  it('sleeps on the real clock and wakes early on abort', async () => {
    const memory = new MemoryCluster();
    const controller = new AbortController();
    const cluster = delegate(memory);
    cluster.renewNodeLease = async (name, options) => {
      await memory.renewNodeLease(name, options);
      // abort while the loop is in its real 10 s sleep
      setImmediate(() => controller.abort());
    };
    const report = await runHeartbeat({
      cluster,
      nodes,
      until: Date.now() + 3_600_000,
      now: Date.now,
      signal: controller.signal,
    });
    expect(report).toEqual({ beats: 1, renewed: 2, failures: [] });
  });
});
