/**
 * 20 pods pending at once on Vast, with the simulator enforcing Vast's minimum intervals
 * (create 4.5 s + 12 s penalty, show 2 s, list 1 s, destroy 3 s, search 10/min): how long until
 * all 20 creates are sent, against Vast's own minimum of 20 × 4.5 s — the ratio is the figure.
 * Two pass loops run at once (the tick and pod-events Lambdas) and share the request slots
 * through the DynamoDB table (ADR 0011). The intervals run at half speed on both sides to keep
 * the bench under a minute; the ratio does not depend on it.
 *
 *   node bench/pacing.bench.ts
 */
import { fileURLToPath } from 'node:url';
import { MemoryCluster } from '../lib/kube/memory-cluster.ts';
import { VastAiProvider } from '../lib/providers/vastai/provider.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../lib/reconcile/config.ts';
import { plainLaunch } from '../lib/reconcile/launch.ts';
import { type PassDeps, runPass } from '../lib/reconcile/pass.ts';
import { defaultRules } from '../lib/reconcile/rules-default.ts';
import { VAST_LIMITS } from '../lib/sim/vastai/pace-limits.ts';
import { VastAiSim } from '../lib/sim/vastai/vastai-sim.ts';
import { benchDynamo } from './dynamo-bench-store.ts';
import type { Benchmark, BenchResult } from './harness.ts';

const PODS = 20;
const SCALE = 0.5;

export interface PacingRow {
  /** ms from the pods' arrival to the 20th create reaching the simulator */
  elapsedMs: number;
  /** 20 × Vast's create interval, at the bench's scale */
  minimumMs: number;
  creates: number;
  /** 429s the simulator answered (any endpoint), and those that drew the create penalty */
  refused: number;
  penalties: number;
}

export async function runPacingBench(): Promise<PacingRow> {
  const sim = new VastAiSim({ seed: 11, offers: 300, paceScale: SCALE });
  const url = await sim.start();
  const dynamo = await benchDynamo();
  try {
    const cluster = new MemoryCluster();
    const provider = new VastAiProvider({
      baseUrl: url,
      apiKey: 'bench',
      clusterId: 'bench',
      paceScale: SCALE,
      paceLedger: dynamo.store,
    });
    const deps: PassDeps = {
      store: dynamo.store,
      cluster,
      providers: { vastai: provider },
      config: { ...DEFAULT_RECONCILE_CONFIG, clusterId: 'bench', nodes: { vastai: 'anex-vastai' } },
      rules: defaultRules,
      launch: plainLaunch,
      clock: Date.now,
    };
    for (let n = 1; n <= PODS; n++) {
      cluster.addPod({
        uid: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
        name: `p${n}`,
        nodeName: 'anex-vastai',
        annotations: {
          'anex.sh/gpu-names': 'RTX 4090,RTX 3090,RTX A6000',
          'vastai.anex.sh/verified-only': 'false',
        },
        nodeSelector: { 'node-provider': 'vastai' },
      });
    }
    const started = Date.now();
    const loop = async () => {
      while (sim.requestCount('create') < PODS && Date.now() - started < 300_000) {
        await runPass(deps, { now: Date.now(), deadline: Date.now() + 30_000 });
      }
    };
    await Promise.all([loop(), loop()]);
    const creates = sim.requestTimes('create');
    const last = creates[PODS - 1];
    if (last === undefined)
      throw new Error(`only ${creates.length} of ${PODS} creates were sent in 5 minutes`);
    const row = {
      elapsedMs: last - started,
      minimumMs: PODS * (VAST_LIMITS.create?.intervalMs ?? 4_500) * SCALE,
      creates: creates.length,
      refused: sim.limitedCount(),
      penalties: sim.ratePenalties(),
    };
    await cleanUp(deps);
    if (sim.liveInstances().length > 0) throw new Error(`${sim.liveInstances().length} instances leaked`);
    return row;
  } finally {
    await sim.stop();
    await dynamo.close();
  }
}

/** Deletes the pods and runs passes until every instance is destroyed. */
async function cleanUp(deps: PassDeps): Promise<void> {
  const cluster = deps.cluster as MemoryCluster;
  for (const pod of await cluster.listPods('anex-vastai'))
    cluster.requestDeletion(pod, new Date().toISOString());
  for (let i = 0; i < 30; i++) {
    const summary = await runPass(deps, { now: Date.now(), deadline: Date.now() + 30_000 });
    if (summary.pods === 0 && (await deps.store.listPods()).length === 0) return;
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'vast-20-creates-paced',
    async run() {
      const row = await runPacingBench();
      if (row.creates !== PODS || row.penalties > 0) {
        throw new Error(`not a clean run: ${JSON.stringify(row)}`);
      }
      const result: BenchResult & { refused: number; creates: number } = {
        name: 'vast-20-creates-paced',
        unit: 'ms',
        median: row.elapsedMs,
        baseline: row.minimumMs,
        ratio: Math.round((row.elapsedMs / row.minimumMs) * 1000) / 1000,
        refused: row.refused,
        creates: row.creates,
      };
      return result;
    },
  },
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const row = await runPacingBench();
  process.stdout.write(
    `vast pacing: 20 creates in ${row.elapsedMs} ms, Vast's minimum ${row.minimumMs} ms, ratio ${(row.elapsedMs / row.minimumMs).toFixed(3)}; ${row.refused} refused, ${row.penalties} penalties\n`,
  );
}
