import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../infra/constructs/anex-function.ts';
import { type Benchmark, median, round } from './harness.ts';

/**
 * Lambda bundles: `cdk synth` with the real esbuild bundling (as deployed), then for each
 * function the bundle size and the cold import time of the bundled file in a fresh Node
 * process, with the NODE_OPTIONS the stack gives that function (source maps or not), plus the
 * process's resident memory after the import (tick runs in 128 MB). Goals (issue #7): tick ≤ 2.5 MiB,
 * ≤ 250 ms import on this machine. Bundles are copied under node_modules/.cache so that the
 * external @aws-sdk/* imports resolve as they would from the Lambda runtime.
 *
 * Standalone: `node bench/bundles.bench.ts` prints a table with sizes too.
 */
const FUNCTIONS = ['tick', 'pod-events', 'admission', 'agent'] as const;
const RUNS = 7;

interface Bundle {
  name: string;
  file: string;
  bytes: number;
  /** the function's NODE_OPTIONS in the template, split */
  nodeOptions: string[];
}

interface ImportSample {
  wall: number;
  cpu: number;
  rssMb: number;
}

let bundles: Bundle[] | undefined;

function synthBundles(): Bundle[] {
  if (bundles !== undefined) return bundles;
  const out = mkdtempSync(join(tmpdir(), 'anex-bench-synth-'));
  try {
    const cdk = join(PROJECT_ROOT, 'node_modules/.bin/cdk');
    const result = spawnSync(cdk, ['synth', '--quiet', '--no-notices', '-o', out], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(PROJECT_ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` },
    });
    if (result.status !== 0) throw new Error(`cdk synth failed:\n${result.stderr}`);
    bundles = copyBundles(out);
    return bundles;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function copyBundles(out: string): Bundle[] {
  const template = JSON.parse(readFileSync(join(out, 'Anex.template.json'), 'utf8')) as {
    Resources: Record<
      string,
      {
        Type: string;
        Properties: { Environment: { Variables: Record<string, unknown> }; Code: { S3Key: string } };
      }
    >;
  };
  const cache = join(PROJECT_ROOT, 'node_modules/.cache/anex-bench');
  const found: Bundle[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const name = String(resource.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).replace(
      /^anex-/,
      '',
    );
    const asset = join(out, `asset.${String(resource.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
    mkdirSync(join(cache, name), { recursive: true });
    for (const file of ['index.mjs', 'index.mjs.map'])
      copyFileSync(join(asset, file), join(cache, name, file));
    const file = join(cache, name, 'index.mjs');
    const nodeOptions = String(resource.Properties.Environment.Variables.NODE_OPTIONS ?? '')
      .split(' ')
      .filter((o) => o !== '');
    found.push({ name, file, bytes: statSync(file).size, nodeOptions });
  }
  return FUNCTIONS.map((name) => {
    const bundle = found.find((b) => b.name === name);
    if (bundle === undefined) throw new Error(`no bundle for ${name} in the synthesized template`);
    return bundle;
  });
}

/**
 * Wall and CPU milliseconds to import the bundle in a fresh process (Node startup excluded).
 * CPU time is reported too because the machine is shared: wall time grows with other load,
 * the process's own CPU time much less.
 */
function importSample(bundle: Bundle): ImportSample {
  const file = bundle.file;
  const script = `const c = process.cpuUsage(); const t = performance.now();
const m = await import(${JSON.stringify(pathToFileURL(file).href)});
const wall = performance.now() - t; const u = process.cpuUsage(c);
if (typeof m.handler !== 'function') throw new Error('no handler export');
process.stdout.write(JSON.stringify({ wall, cpu: (u.user + u.system) / 1000, rssMb: process.memoryUsage().rss / 1048576 }));`;
  const result = spawnSync(process.execPath, [...bundle.nodeOptions, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1' },
  });
  if (result.status !== 0) throw new Error(`importing ${file} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as ImportSample;
}

function measureImport(bundle: Bundle): ImportSample {
  importSample(bundle); // warm the file cache, as a warm disk would be
  const samples = Array.from({ length: RUNS }, () => importSample(bundle));
  const of = (key: keyof ImportSample) => round(median(samples.map((s) => s[key])));
  return { wall: of('wall'), cpu: of('cpu'), rssMb: of('rssMb') };
}

export const benchmarks: Benchmark[] = FUNCTIONS.map((name) => ({
  name: `bundle ${name}: cold import`,
  run: () => {
    const bundle = synthBundles().find((b) => b.name === name) as Bundle;
    const { wall, cpu, rssMb } = measureImport(bundle);
    const size = (bundle.bytes / 1024 / 1024).toFixed(2);
    return {
      name: `bundle ${name}: cold import (${size} MiB, cpu ${cpu} ms, rss ${Math.round(rssMb)} MB)`,
      unit: 'ms',
      median: wall,
    };
  },
}));

if (import.meta.main) {
  for (const bundle of synthBundles()) {
    const mib = bundle.bytes / 1024 / 1024;
    process.stdout.write(
      `${JSON.stringify({ function: bundle.name, bytes: bundle.bytes, mib: round(mib), nodeOptions: bundle.nodeOptions, import: measureImport(bundle) })}\n`,
    );
  }
}
