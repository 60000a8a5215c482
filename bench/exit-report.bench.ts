import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { MemoryCluster } from '../lib/kube/memory-cluster.ts';
import { startLocalReconciler } from '../lib/local/local-reconciler.ts';
import { openLocalStore } from '../lib/local/local-store.ts';
import { ReconcilerAgentBackend } from '../lib/reconcile/agent-backend.ts';
import { agentLaunch } from '../lib/reconcile/agent-launch.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../lib/reconcile/config.ts';
import type { PassDeps } from '../lib/reconcile/pass.ts';
import { defaultRules } from '../lib/reconcile/rules-default.ts';
import type { Store } from '../lib/state/store.ts';
import { parseVpnRange } from '../lib/tunnel/addresses.ts';
import { FakeProvider } from '../test/support/fakes/fake-provider.ts';
import { type Benchmark, median, round } from './harness.ts';

/**
 * Issue #13: from the agent's final `exited` report reaching the control plane to the
 * instance's destroy call, in local mode — the embedded store (dynalite on disk, as `anex
 * run` keeps it), the local reconciler's work queue, and the per-pod pass the report asks for
 * (ReconcilerAgentBackend `passes` → `trigger`). The Cluster is the MemoryCluster and the
 * provider the FakeProvider (their calls are instant: what is measured is our own path — the
 * report's store write, the queue, the pass's store reads and writes). Without the per-pod
 * pass the wait would be the full-pass cadence (15 s in `anex run`); the pass interval here is
 * an hour so only the report's own pass can do it. p50 of RUNS pods.
 */
const RUNS = 15;
const HOUR = 3_600_000;

function podUid(n: number): string {
  return `00000000-0000-4000-8000-${(0xe000 + n).toString(16).padStart(12, '0')}`;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function exitToDestroyed(): Promise<number[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'anex-bench-exit-'));
  const local = await openLocalStore({ dataDir });
  const store: Store = local.store;
  const cluster = new MemoryCluster();
  const vast = new FakeProvider('vastai');
  const runpod = new FakeProvider('runpod');
  const sync = () => {
    vast.now = Date.now();
    runpod.now = Date.now();
  };
  sync();
  const deps: PassDeps = {
    store,
    cluster,
    providers: { vastai: vast, runpod },
    config: { ...DEFAULT_RECONCILE_CONFIG, clusterId: 'bench' },
    rules: defaultRules,
    launch: agentLaunch({
      store,
      range: parseVpnRange('10.77.0.0/24'),
      endpointUrl: 'https://agent.example.test',
      now: Date.now,
      agent: { sha256: { amd64: 'a'.repeat(64), arm64: 'b'.repeat(64) }, run: 'exec' },
    }),
    clock: Date.now,
  };
  const reconciler = await startLocalReconciler({
    deps,
    kubeConfig: new KubeConfig(),
    nodes: [],
    passIntervalMs: HOUR,
    log: () => {},
    // The pod events come from the test: no watch on a real API server.
    watch: () => ({ stop: () => {} }),
  });
  const backend = new ReconcilerAgentBackend({
    store,
    cluster,
    transport: { vastai: 'udp', runpod: 'wstunnel' },
    passes: { send: async (message) => reconciler.trigger(message.podUid) },
  });
  const samples: number[] = [];
  try {
    for (let n = 0; n < RUNS; n++) {
      const uid = podUid(n);
      vast.offers = [
        {
          provider: 'vastai',
          offerId: String(50_000 + n),
          machineId: `m${n}`,
          gpuName: 'RTX 4090',
          gpuCount: 1,
          vramMb: 24564,
          vramTotalMb: 24564,
          pricePerHour: 0.3,
          verified: true,
          region: 'europe',
        },
      ];
      cluster.addPod({
        uid,
        name: `bench-${n}`,
        nodeName: 'anex-vastai',
        nodeSelector: { 'node-provider': 'vastai' },
        annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
        containers: [{ name: 'main', image: 'ghcr.io/example/trainer:1', command: ['python', 'train.py'] }],
        restartPolicy: 'Never',
      });
      sync();
      reconciler.trigger(uid);
      const instanceId = await until(
        'the instance rented',
        async () => (await store.getPod(uid))?.instance?.id,
      );
      vast.advance();
      await backend.saveStatusCredential(uid, 'ab'.repeat(32));
      await backend.recordStatus(uid, { state: 'started', restartCount: 0 }, { now: Date.now() });
      reconciler.trigger(uid);
      await until('the pod running', async () =>
        (await store.getPod(uid))?.stage === 'running' ? true : undefined,
      );
      const destroysBefore = vast.calls.destroy;
      const reported = performance.now();
      await backend.recordStatus(uid, { state: 'exited', exitCode: 0, restartCount: 0 }, { now: Date.now() });
      await until('the instance destroyed', () =>
        vast.calls.destroy > destroysBefore && !vast.live().some((i) => i.id === instanceId)
          ? true
          : undefined,
      );
      samples.push(performance.now() - reported);
    }
  } finally {
    await reconciler.stop();
    await local.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return samples;
}

export const benchmarks: Benchmark[] = [
  {
    name: 'lifecycle: exit report → instance destroyed (local mode, embedded store)',
    async run() {
      const samples = await exitToDestroyed();
      return { name: this.name, unit: 'ms', median: round(median(samples)) };
    },
  },
];
