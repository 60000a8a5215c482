/**
 * Steady-state reconcile pass with 10 / 100 / 1000 Running pods: calls per pass by kind
 * (Kubernetes, DynamoDB store, provider) and wall time. Two stores: the in-memory Store
 * (wall time of the pass's own work), and the real DynamoStore over HTTP to an embedded
 * dynalite (wall time with a real store, and the DynamoDB requests actually sent). The
 * Cluster is the MemoryCluster and the provider the FakeProvider in both (call counts are the
 * same on the real ones: the pass counts calls on whatever dependencies it is given).
 *
 *   node bench/reconcile.bench.ts [memory|dynamo]
 */
import { fileURLToPath } from 'node:url';
import { MemoryCluster } from '../lib/kube/memory-cluster.ts';
import type { Offer } from '../lib/offers/offer.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../lib/reconcile/config.ts';
import { totalsByKind } from '../lib/reconcile/counting.ts';
import { plainLaunch } from '../lib/reconcile/launch.ts';
import { type PassDeps, runPass } from '../lib/reconcile/pass.ts';
import { defaultRules } from '../lib/reconcile/rules-default.ts';
import { MemoryStore } from '../lib/state/memory-store.ts';
import type { Store } from '../lib/state/store.ts';
import { FakeProvider } from '../test/support/fakes/fake-provider.ts';
import { benchDynamo } from './dynamo-bench-store.ts';
import type { Benchmark, BenchResult } from './harness.ts';

export type BenchStore = 'memory' | 'dynamo';

export interface ReconcileBenchRow {
  pods: number;
  store: BenchStore;
  /** DynamoDB requests sent in one steady-state pass, by command (dynamo only) */
  dynamoRequests?: Record<string, number>;
  /** calls in one steady-state pass, by kind */
  calls: Record<string, number>;
  /** median wall ms of the steady-state passes */
  wallMs: number;
  statusWrites: number;
  /** pods Running in Kubernetes at the end (sanity: equals `pods`) */
  running: number;
}

const T0 = Date.parse('2026-03-01T12:00:00Z');

function uid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

function offer(n: number): Offer {
  return {
    provider: 'vastai',
    offerId: String(10_000 + n),
    machineId: `m${n}`,
    gpuName: 'RTX 4090',
    gpuCount: 1,
    vramMb: 24564,
    vramTotalMb: 24564,
    pricePerHour: 0.3 + n / 100_000,
    verified: true,
    region: 'europe',
  };
}

async function steadyState(pods: number, passes: number, kind: BenchStore): Promise<ReconcileBenchRow> {
  const dynamo = kind === 'dynamo' ? await benchDynamo() : undefined;
  try {
    return await measureSteadyState(pods, passes, kind, dynamo);
  } finally {
    await dynamo?.close();
  }
}

async function measureSteadyState(
  pods: number,
  passes: number,
  kind: BenchStore,
  dynamo: Awaited<ReturnType<typeof benchDynamo>> | undefined,
): Promise<ReconcileBenchRow> {
  let now = T0;
  const vast = new FakeProvider('vastai');
  const cluster = new MemoryCluster();
  vast.offers = Array.from({ length: pods + 10 }, (_, i) => offer(i));
  const store: Store = dynamo?.store ?? new MemoryStore();
  const deps: PassDeps = {
    store,
    cluster,
    providers: { vastai: vast },
    config: { ...DEFAULT_RECONCILE_CONFIG, clusterId: 'bench', nodes: { vastai: 'anex-vastai' } },
    rules: defaultRules,
    launch: plainLaunch,
    clock: () => now,
  };
  for (let n = 1; n <= pods; n++) {
    cluster.addPod({
      uid: uid(n),
      name: `p${n}`,
      nodeName: 'anex-vastai',
      annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
      nodeSelector: { 'node-provider': 'vastai' },
    });
  }
  await runPass(deps, { now, deadline: now + 600_000 });
  vast.advance();
  now += 60_000;
  await runPass(deps, { now, deadline: now + 600_000 });
  const walls: number[] = [];
  let last: Awaited<ReturnType<typeof runPass>> | undefined;
  for (let i = 0; i < passes; i++) {
    now += 60_000;
    dynamo?.reset();
    const started = performance.now();
    last = await runPass(deps, { now, deadline: now + 600_000, concurrency: 8 });
    walls.push(performance.now() - started);
  }
  walls.sort((a, b) => a - b);
  return {
    pods,
    store: kind,
    ...(dynamo === undefined ? {} : { dynamoRequests: { ...dynamo.requests } }),
    calls: last ? { ...totalsByKind(last.calls), ...last.calls } : {},
    wallMs: Math.round((walls[Math.floor(walls.length / 2)] ?? 0) * 100) / 100,
    statusWrites: last?.statusWrites ?? 0,
    running: (await cluster.listPods('anex-vastai')).filter((p) => p.status?.phase === 'Running').length,
  };
}

export async function runReconcileBench(
  sizes: readonly number[] = [10, 100, 1000],
  kind: BenchStore = 'memory',
): Promise<ReconcileBenchRow[]> {
  const rows: ReconcileBenchRow[] = [];
  for (const size of sizes) rows.push(await steadyState(size, 5, kind));
  return rows;
}

/**
 * For `npm run bench`: one line per size with the median wall ms and the calls per pass by
 * kind. Throws (the bench fails) if the pods did not all end Running or if a steady-state
 * pass writes anything — a wrong answer is not a measurement.
 */
export const benchmarks: Benchmark[] = (['memory', 'dynamo'] as const).flatMap((kind) =>
  [10, 100, 1000].map((pods) => benchmark(kind, pods)),
);

function benchmark(kind: BenchStore, pods: number): Benchmark {
  const name = `reconcile-steady-pass-${pods}-pods${kind === 'memory' ? '' : '-dynamodb'}`;
  return {
    name,
    async run() {
      const [row] = await runReconcileBench([pods], kind);
      if (row === undefined || row.running !== pods || row.statusWrites !== 0) {
        throw new Error(`steady state not reached: ${JSON.stringify(row)}`);
      }
      const result: BenchResult & {
        callsPerPass: Record<string, number>;
        dynamoRequestsPerPass?: Record<string, number>;
      } = {
        name,
        unit: 'ms',
        median: row.wallMs,
        callsPerPass: row.calls,
        ...(row.dynamoRequests === undefined ? {} : { dynamoRequestsPerPass: row.dynamoRequests }),
      };
      return result;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const kinds: BenchStore[] =
    process.argv[2] === undefined ? ['memory', 'dynamo'] : [process.argv[2] as BenchStore];
  for (const kind of kinds) {
    const rows = await runReconcileBench([10, 100, 1000], kind);
    const what = kind === 'memory' ? 'in-memory Store' : 'DynamoStore on embedded dynalite';
    process.stdout.write(`reconcile: steady-state pass (${what}, MemoryCluster, fake provider)\n`);
    for (const row of rows) {
      const dynamo =
        row.dynamoRequests === undefined ? '' : `, DynamoDB requests ${JSON.stringify(row.dynamoRequests)}`;
      process.stdout.write(
        `  ${String(row.pods).padStart(5)} pods (${row.running} Running): ${row.wallMs} ms, status writes ${row.statusWrites}${dynamo}, calls ${JSON.stringify(row.calls)}\n`,
      );
    }
  }
}
