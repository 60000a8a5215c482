import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type SimulatedMarket, startSimulatedMarket } from '../../../lib/local/simulated-market.ts';
import { controlPlane, createTestNamespace } from '../../support/index.ts';
import { REPO, runCli } from './cli-process.ts';

let market: SimulatedMarket;
let dataDir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  market = await startSimulatedMarket();
  dataDir = await mkdtemp(join(tmpdir(), 'anex-explain-'));
  env = { VAST_API_KEY: market.endpoints.vastai.apiKey, VAST_API_URL: market.endpoints.vastai.baseUrl };
});

afterAll(async () => {
  await market.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** The seed pod with one annotation changed. */
function seedPodWith(annotation: string, value: string): V1Pod {
  const pod = parse(readFileSync(join(REPO, 'examples/seed-pod.yaml'), 'utf8')) as V1Pod;
  pod.metadata = { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [annotation]: value } };
  return pod;
}

function cli(args: readonly string[]) {
  return runCli([...args, '--data-dir', dataDir], env);
}

describe('anex explain and anex bans', () => {
  it('prints the funnel, the near miss and the bans in force for a pod no offer matches', async () => {
    const ns = await createTestNamespace('explain');
    await ns.core.createNamespacedPod({ namespace: ns.name, body: seedPodWith('anex.sh/price-max', '0.01') });
    expect(
      (await cli(['bans', 'add', 'vastai', '4242', '--for', '2h', '--reason', 'failed to start'])).code,
    ).toBe(0);

    const kubeconfig = ['--kubeconfig', controlPlane().kubeconfigPath];
    const text = await cli(['explain', `${ns.name}/my-gpu-workload`, ...kubeconfig]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/vastai: 0 of \d+ offers match/);
    expect(text.stdout).toMatch(/^\s+price\s+0$/m);
    expect(text.stdout).toMatch(/Nearest miss: \d+ \(2x RTX (3090|4090), \$[\d.]+\/h\) fails price: /);
    expect(text.stdout).toContain('machine 4242 until');
    expect(text.stdout).toContain('no record (the reconciler has not acted on this pod)');

    const json = await cli(['explain', `${ns.name}/my-gpu-workload`, ...kubeconfig, '--output', 'json']);
    const body = JSON.parse(json.stdout) as {
      offers: { matched: number; nearMiss: { filter: string } };
      bans: { machineId: string }[];
      annotations: { valid: boolean };
    };
    expect(body.annotations.valid).toBe(true);
    expect(body.offers.matched).toBe(0);
    expect(body.offers.nearMiss.filter).toBe('price');
    expect(body.bans.map((b) => b.machineId)).toEqual(['4242']);
  });

  it('lists the annotation errors of an invalid pod', async () => {
    const ns = await createTestNamespace('explain');
    await ns.core.createNamespacedPod({ namespace: ns.name, body: seedPodWith('anex.sh/vram-min', '20GB') });
    const result = await cli([
      'explain',
      `${ns.name}/my-gpu-workload`,
      '--kubeconfig',
      controlPlane().kubeconfigPath,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/error: anex\.sh\/vram-min: "20GB"/);
    expect(result.stdout).toContain('not searched (the annotations are invalid)');
  });

  it.each([
    [['explain', 'no-slash'], 'is not <namespace>/<pod>'],
    [['bans', 'add', 'nimbus', '1'], 'is not a provider (one of: vastai, runpod)'],
    [['bans', 'add', 'vastai', '1', '--for', '6 hours'], 'is not a duration'],
  ])('anex %j exits 2 naming the bad input', async (args, message) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('a pod that does not exist is exit 2 with its name', async () => {
    const result = await cli(['explain', 'default/nope', '--kubeconfig', controlPlane().kubeconfigPath]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pod default/nope not found');
  });

  it('bans list shows a ban until it is cleared', async () => {
    expect((await cli(['bans', 'add', 'vastai', '777'])).code).toBe(0);
    const listed = await cli(['bans', 'list', '--output', 'json']);
    expect((JSON.parse(listed.stdout) as { machineId: string }[]).map((b) => b.machineId)).toContain('777');
    const cleared = await cli(['bans', 'clear', 'vastai', '777']);
    expect(cleared.stdout).toBe('cleared the ban on vastai machine 777\n');
    const again = await cli(['bans', 'clear', 'vastai', '777']);
    expect(again.stdout).toBe('vastai machine 777 was not banned\n');
    const after = await cli(['bans', 'list', '--output', 'json']);
    expect((JSON.parse(after.stdout) as { machineId: string }[]).map((b) => b.machineId)).not.toContain(
      '777',
    );
  });
});
