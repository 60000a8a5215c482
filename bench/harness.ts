/**
 * A tiny benchmark harness: `npm run bench` runs every registered benchmark (bench/run.ts)
 * and prints one JSON line per result. Speed goals live here, never in tests.
 */

/** One printed line: `{"name","unit","median","baseline"?,"ratio"?}`. */
export interface BenchResult {
  name: string;
  unit: 'ms';
  median: number;
  /** median of the reference implementation measured side by side, when there is one */
  baseline?: number;
  /** median / baseline */
  ratio?: number;
}

export interface Benchmark {
  name: string;
  /** Runs the measurement; may throw (or reject) if the code under test gives a wrong answer. */
  run(): BenchResult | Promise<BenchResult>;
}

export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function time(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export interface MeasureOptions {
  iterations: number;
  warmup: number;
}

/** Median wall time of `fn` in ms. */
export function measure(fn: () => unknown, options: MeasureOptions): number {
  for (let i = 0; i < options.warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < options.iterations; i++) samples.push(time(fn));
  return median(samples);
}

/**
 * Medians of `subject` and `baseline`, run alternately so both see the same machine load
 * (the machine is shared), plus their ratio.
 */
export function compare(
  name: string,
  subject: () => unknown,
  baseline: () => unknown,
  options: MeasureOptions,
): BenchResult {
  for (let i = 0; i < options.warmup; i++) {
    subject();
    baseline();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < options.iterations; i++) {
    a.push(time(subject));
    b.push(time(baseline));
  }
  const m = median(a);
  const base = median(b);
  return { name, unit: 'ms', median: round(m), baseline: round(base), ratio: round(m / base) };
}

export function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** A deterministic PRNG (mulberry32) so every run measures the same data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
