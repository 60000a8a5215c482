import type { Benchmark } from './harness.ts';

/**
 * `npm run bench [name-substring…]`: runs the registered benchmarks and prints one JSON line
 * each. To add benchmarks, export `benchmarks: Benchmark[]` from a bench/<topic>.bench.ts
 * file and add it to MODULES.
 */
const MODULES: readonly (() => Promise<{ benchmarks: Benchmark[] }>)[] = [
  () => import('./filter.bench.ts'),
  () => import('./reconcile.bench.ts'),
  () => import('./bundles.bench.ts'),
  () => import('./launch.bench.ts'),
  () => import('./pacing.bench.ts'),
  () => import('./exit-report.bench.ts'),
];

const filters = process.argv.slice(2);
let failed = false;
for (const load of MODULES) {
  const { benchmarks } = await load();
  for (const benchmark of benchmarks) {
    if (filters.length > 0 && !filters.some((f) => benchmark.name.includes(f))) continue;
    try {
      process.stdout.write(`${JSON.stringify(await benchmark.run())}\n`);
    } catch (error) {
      failed = true;
      process.stderr.write(
        `bench ${benchmark.name} failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
  }
}
process.exitCode = failed ? 1 : 0;
