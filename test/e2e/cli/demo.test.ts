import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { kubectlBinary } from '../../support/kubectl.ts';
import { type CliProcess, runCli, startCli } from './cli-process.ts';

// `anex demo` starts its own control plane (the cached binaries the test ground built), its
// own simulated marketplace, embedded store and reconciler: it is run here exactly as
// `npm run demo` runs it, as a child process.
const started: CliProcess[] = [];

afterEach(() => {
  for (const p of started.splice(0)) p.kill();
});

function demo(args: readonly string[]): CliProcess {
  const process = startCli(['demo', ...args]);
  started.push(process);
  return process;
}

/** Processes whose command line mentions `text` (the control plane's temp dir). */
async function processesMentioning(text: string): Promise<string[]> {
  const { execFile } = await import('node:child_process');
  const out = await new Promise<string>((resolve) =>
    execFile('ps', ['-eo', 'args'], (_error, stdout) => resolve(stdout)),
  );
  return out.split('\n').filter((line) => line.includes(text));
}

function kubectl(
  kubeconfig: string,
  args: readonly string[],
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      kubectlBinary(),
      ['--kubeconfig', kubeconfig, ...args],
      { timeout: 60_000 },
      (error, _out, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stderr }),
    ),
  );
}

describe('anex demo', () => {
  it('takes the example pod from Pending through Provisioning to Running, then cleans up (exit 0)', async () => {
    const run = demo([]);
    expect(await run.exited).toBe(0);
    const out = run.stdout();
    expect(out).toMatch(/Pending\s+on anex-vastai/);
    expect(out).toMatch(/event Normal OfferSelected: Renting 2x RTX (4090|3090)/);
    expect(out).toMatch(/ContainerCreating: Instance \d+/);
    expect(out).toMatch(/Running\s+on anex-vastai/);
    expect(out).toContain('✔ default/my-gpu-workload is Running on anex-vastai');
    expect(out).toContain('cleaned up: no simulated machine left rented');
    expect(out.indexOf('ContainerCreating')).toBeLessThan(out.indexOf('✔'));
  });

  it('--keep leaves a usable cluster until Ctrl-C, then removes every process and the temp dir (exit 130)', async () => {
    const run = demo(['--keep']);
    const line = await run.waitFor(/export KUBECONFIG=\S+/, 'the kubeconfig to play with', 150_000);
    const kubeconfigPath = line.slice('export KUBECONFIG='.length);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const pod = await kubeConfig
      .makeApiClient(CoreV1Api)
      .readNamespacedPod({ namespace: 'default', name: 'my-gpu-workload' });
    expect(pod.status?.phase).toBe('Running');
    const controlPlaneDir = dirname(kubeconfigPath);
    expect(await processesMentioning(controlPlaneDir)).not.toEqual([]);

    // The demo serves the kubelet API (anex-kubelet on loopback) and says how to use it; its
    // pod runs without a tunnel (no gateway), which kubectl exec is told, through the API server.
    expect(run.stdout()).toMatch(/kubelet API \(anex-kubelet\) on 127\.0\.0\.1:\d+: kubectl logs reaches/);
    expect(run.stdout()).toContain('kubectl logs my-gpu-workload');
    expect(run.stdout()).toContain('kubectl exec my-gpu-workload -- ls');
    const exec = await kubectl(kubeconfigPath, ['exec', 'my-gpu-workload', '--', 'ls']);
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toContain(
      'pod default/my-gpu-workload runs without a tunnel, so exec is not available; only the log tail saved at exit is served',
    );
    const kubelet = await processesMentioning('anex-kubelet --kubeconfig=');
    expect(kubelet.filter((line) => line.includes(controlPlaneDir))).toHaveLength(1);

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stdout()).toContain('cleaned up: no simulated machine left rented');
    expect(existsSync(controlPlaneDir)).toBe(false);
    expect(await processesMentioning(controlPlaneDir)).toEqual([]);
  });

  it('Ctrl-C while the machine is starting deletes the pod, destroys the machine and exits 130', async () => {
    const run = demo([]);
    await run.waitFor(/ContainerCreating: Instance \d+/, 'the machine to be starting', 150_000);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stdout()).not.toContain('✔');
    expect(run.stdout()).toContain('cleaning up: deleting the pod');
    expect(run.stdout()).toContain('cleaned up: no simulated machine left rented');
  });

  it('runs against `anex sim` in another process when VAST_API_URL names it, and leaves nothing rented there', async () => {
    const sim = startCli(['sim', '--boot', '3']);
    started.push(sim);
    const vastai =
      (await sim.waitFor(/^vastai http:\S+$/m, "the simulator's Vast.AI URL", 60_000)).split(' ')[1] ?? '';
    const runpod =
      (await sim.waitFor(/^runpod http:\S+$/m, "the simulator's RunPod URL", 60_000)).split(' ')[1] ?? '';
    const run = startCli(['demo'], {
      VAST_API_URL: vastai,
      VAST_API_KEY: 'demo-test',
      RUNPOD_API_URL: runpod,
      RUNPOD_API_KEY: 'demo-test',
    });
    started.push(run);
    expect(await run.exited).toBe(0);
    const out = run.stdout();
    expect(out).toContain(
      `[2/4] external marketplace from the environment: vastai at ${vastai}, runpod at ${runpod}`,
    );
    // The demo found the simulator's image registry by itself (GET /__sim/info).
    expect(out).toMatch(/ {6}images from http:\/\/127\.0\.0\.1:\d+\n/);
    // The demo found the simulator's image registry by itself (GET /__sim/info).
    expect(out).toMatch(/ {6}images from http:\/\/127\.0\.0\.1:\d+\n/);
    expect(out).toMatch(/event Normal OfferSelected: Renting 2x RTX (4090|3090)/);
    expect(out).toContain('✔ default/my-gpu-workload is Running on anex-vastai');
    expect(out).toContain('cleaned up: no simulated machine left rented');
    const live = (await (await fetch(`${vastai}/__sim/instances`)).json()) as unknown[];
    expect(live).toEqual([]);
    sim.child.kill('SIGTERM');
    expect(await sim.exited).toBe(0);
  });

  it('--pod with something that is not a Pod manifest exits 2 naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anex-demo-'));
    try {
      const file = join(dir, 'deployment.yaml');
      await writeFile(file, 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n');
      const result = await runCli(['demo', '--pod', file]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`--pod ${file}: expected one Pod manifest`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
