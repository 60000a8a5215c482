import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort } from '../../../lib/local/control-plane/ports.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { agentBuildDir } from '../../support/agent-build.ts';
import { adminKubeConfig, controlPlane, createTestNamespace, eventually } from '../../support/index.ts';
import { type CliProcess, REPO, runCli, startCli } from './cli-process.ts';

interface SimInstance {
  id: string;
  label: string;
  state: string;
}

const started: CliProcess[] = [];
const dirs: string[] = [];

function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const process = startCli(args, env);
  started.push(process);
  return process;
}

/** `anex sim` in its own process: the marketplace outlives `anex run` restarts. */
async function startSim(): Promise<{ env: NodeJS.ProcessEnv; vastUrl: string; process: CliProcess }> {
  const sim = cli(['sim', '--boot', '4', '--offers', '300']);
  await sim.waitFor(/^runpod http:\/\/127\.0\.0\.1:\d+$/m, 'anex sim to print its endpoints');
  const url = (provider: string) =>
    new RegExp(`^${provider} (http://127\\.0\\.0\\.1:\\d+)$`, 'm').exec(sim.stdout())?.[1];
  const vastUrl = url('vastai') as string;
  const registry = /^registry (http:\/\/127\.0\.0\.1:\d+)$/m.exec(sim.stdout())?.[1] as string;
  // The simulators accept any non-empty key; their images come from the marketplace's registry.
  const env: NodeJS.ProcessEnv = {
    ANEX_REGISTRY_MIRROR: registry,
    VAST_API_URL: vastUrl,
    VAST_API_KEY: 'test-key',
    RUNPOD_API_URL: url('runpod') as string,
    RUNPOD_API_KEY: 'test-key',
  };
  return { env, vastUrl, process: sim };
}

async function simInstances(vastUrl: string): Promise<SimInstance[]> {
  const response = await fetch(`${vastUrl}/__sim/instances`);
  return (await response.json()) as SimInstance[];
}

function seedPod(): V1Pod {
  return parse(readFileSync(join(REPO, 'examples/seed-pod.yaml'), 'utf8')) as V1Pod;
}

async function stopGracefully(run: CliProcess): Promise<number | null> {
  run.child.kill('SIGINT');
  return run.exited;
}

afterEach(async () => {
  for (const p of started.splice(0)) p.kill();
});

afterAll(async () => {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  for (const name of ['anex-vastai', 'anex-runpod']) await core.deleteNode({ name }).catch(() => undefined);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('anex run --simulate-style local mode (child processes)', () => {
  it('reconciles a kubectl-style pod to Running; Ctrl-C mid-provisioning and a restart rent exactly one machine', async () => {
    const ns = await createTestNamespace('run');
    const dataDir = await mkdtemp(join(tmpdir(), 'anex-run-'));
    dirs.push(dataDir);
    const sim = await startSim();
    const args = [
      'run',
      '--kubeconfig',
      controlPlane().kubeconfigPath,
      '--data-dir',
      dataDir,
      '--interval',
      '1',
      // the test namespace may rent, enabled explicitly as an operator would (ADR 0019)
      '--rent-namespaces',
      ns.name,
    ];
    const first = cli(args, sim.env);
    await first.waitFor(/anex run: nodes anex-vastai, anex-runpod/, 'anex run to start');

    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: seedPod() });
    const uid = created.metadata?.uid as string;
    // Mid-provisioning: the machine is rented but not running yet.
    const rented = await eventually(
      async () => {
        const live = await simInstances(sim.vastUrl);
        return live.length > 0 && live.every((i) => i.state !== 'running') ? live : undefined;
      },
      { what: 'a rented, still booting simulated instance', timeoutMs: 60_000 },
    );
    expect(rented).toHaveLength(1);
    expect(rented[0]?.label).toContain(uid);

    expect(await stopGracefully(first)).toBe(130);
    expect(first.stderr()).toContain('stopped: leases released, store closed');

    const second = cli(args, sim.env);
    await eventually(
      async () => {
        const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'my-gpu-workload' });
        return pod.status?.phase === 'Running' ? pod : undefined;
      },
      { what: 'the pod Running after the restart', timeoutMs: 90_000 },
    );
    const live = await simInstances(sim.vastUrl);
    expect(live.map((i) => i.id)).toEqual(rented.map((i) => i.id));

    // Another command shares the running reconciler's store through the data dir.
    const status = await runCli(
      ['status', '--kubeconfig', controlPlane().kubeconfigPath, '--data-dir', dataDir, '--output', 'json'],
      sim.env,
    );
    expect(status.code).toBe(0);
    const rows = JSON.parse(status.stdout) as { pod: string; phase: string; instance: string; gpu: string }[];
    expect(rows).toEqual([
      expect.objectContaining({
        pod: `${ns.name}/my-gpu-workload`,
        phase: 'Running',
        instance: rented[0]?.id,
        gpu: expect.stringMatching(/^2x RTX (3090|4090)$/),
      }),
    ]);

    await ns.core.deleteNamespacedPod({ namespace: ns.name, name: 'my-gpu-workload' });
    await eventually(async () => ((await simInstances(sim.vastUrl)).length === 0 ? true : undefined), {
      what: 'the instance destroyed after the pod was deleted',
      timeoutMs: 60_000,
    });
    expect(await stopGracefully(second)).toBe(130);
    expect(await stopGracefully(sim.process)).toBe(130);
    expect(sim.process.stderr()).not.toContain('still rented');
  });

  it('anex run --simulate starts its own marketplace and registers the virtual nodes', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'anex-run-'));
    dirs.push(dataDir);
    const run = cli([
      'run',
      '--simulate',
      '--kubeconfig',
      controlPlane().kubeconfigPath,
      '--data-dir',
      dataDir,
      // its pod's namespace is made later: every namespace, enabled explicitly (ADR 0019)
      '--rent-namespaces',
      '*',
    ]);
    await run.waitFor(/simulated marketplace: http:\/\/127\.0\.0\.1:\d+/, 'the simulated marketplace');
    await run.waitFor(/anex run: nodes anex-vastai, anex-runpod/, 'anex run to start');
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const node = await core.readNode({ name: 'anex-vastai' });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    // Without --agent-endpoint-url the simulated machines (on this host) fetch the agent from a
    // loopback endpoint, and with no gateway it runs the pod untunnelled.
    expect(run.stderr() + run.stdout()).toMatch(
      /agent endpoint on http:\/\/127\.0\.0\.1:\d+; agents reach it at http:\/\/127\.0\.0\.1:\d+ \(no gateway: pods run without the tunnel\)/,
    );
    const ns = await createTestNamespace('run-sim');
    await ns.core.createNamespacedPod({ namespace: ns.name, body: seedPod() });
    await eventually(
      async () => {
        const p = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'my-gpu-workload' });
        return p.status?.phase === 'Running' ? p : undefined;
      },
      { what: 'the pod Running on a simulated machine', timeoutMs: 90_000 },
    );
    expect(run.stderr() + run.stdout()).toMatch(
      /simulated machine vastai\/\d+: pytorch\/pytorch:latest started "\/bin\/sh"/,
    );
    await ns.core.deleteNamespacedPod({ namespace: ns.name, name: 'my-gpu-workload' });
    // Graceful deletion (issue #13): the agent stops the workload (SIGTERM: 143) and reports
    // it; then the instance is destroyed and the pod finalized.
    await run.waitFor(
      /agent status \{"podUid":"[0-9a-f-]+","state":"exited","exitCode":143/,
      "the agent's report of the graceful stop",
    );
    await eventually(
      async () =>
        (await ns.core.listNamespacedPod({ namespace: ns.name })).items.length === 0 ? true : undefined,
      { what: 'the pod finalized after its instance was destroyed', timeoutMs: 60_000 },
    );
    // A second reconciler on the same data dir is refused (it would lose the store with the first).
    const second = cli([
      'run',
      '--simulate',
      '--kubeconfig',
      controlPlane().kubeconfigPath,
      '--data-dir',
      dataDir,
    ]);
    expect(await second.exited).toBe(2);
    expect(second.stderr()).toContain(`another anex run is using ${dataDir}`);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('with --agent-endpoint-url it serves the agent endpoint and the agent, and launches through the tunnel (podIP = VPN address)', async () => {
    const ns = await createTestNamespace('run');
    const dataDir = await mkdtemp(join(tmpdir(), 'anex-run-'));
    dirs.push(dataDir);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const run = cli(
      [
        'run',
        '--simulate',
        '--kubeconfig',
        controlPlane().kubeconfigPath,
        '--data-dir',
        dataDir,
        '--interval',
        '1',
        '--rent-namespaces',
        ns.name,
        '--agent-endpoint-url',
        url,
        '--agent-listen',
        `127.0.0.1:${port}`,
        '--gateway-public-key',
        wgKeyPair().publicKey,
        '--gateway-endpoint',
        '127.0.0.1:51820',
      ],
      // No ANEX_AGENT_BINARIES: local mode builds wireproxy and wstunnel and serves them.
      { ANEX_AGENT_BINARIES: '' },
    );
    await run.waitFor(new RegExp(`agent endpoint on ${url}`), 'the agent endpoint');
    expect(run.stderr() + run.stdout()).toMatch(
      /agent binaries: agent \d+, wireproxy v1\.0\.9-anex1, wstunnel \S+ \(go/,
    );
    const manifest = JSON.parse(readFileSync(join(agentBuildDir(), 'manifest.json'), 'utf8'));
    for (const name of ['wireproxy', 'wstunnel']) {
      const served = await fetch(`${url}/v1/binaries/${name}/amd64`);
      expect(served.status).toBe(200);
      expect(
        createHash('sha256')
          .update(Buffer.from(await served.arrayBuffer()))
          .digest('hex'),
      ).toBe(manifest.binaries[name].assets.amd64.sha256);
    }
    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: seedPod() });
    const uid = created.metadata?.uid as string;
    // The machine ran the stub, which fetched the real agent; the agent bootstrapped with its
    // token and got the tunnel (UDP to the gateway). No gateway answers in this test, so the
    // agent waits for the tunnel and the pod stays ContainerCreating, with its VPN address.
    await run.waitFor(
      new RegExp(
        `agent endpoint: agent bootstrapped \\{"podUid":"${uid}","address":"10\\.99\\.\\d+\\.\\d+","transport":"udp"`,
      ),
      'the real agent to bootstrap through the endpoint',
    );
    const pod = await eventually(
      async () => {
        const p = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'my-gpu-workload' });
        return p.status?.podIP !== undefined ? p : undefined;
      },
      { what: 'the pod with its VPN address', timeoutMs: 30_000 },
    );
    expect(pod.status?.podIP).toMatch(/^10\.99\.\d+\.\d+$/);
    expect(pod.status?.phase).toBe('Pending');
    // The endpoint answers with the pod's record behind it: no credential, no status.
    const alive = await fetch(`${url}/v1/pod-alive?podUid=${uid}`);
    expect(alive.status).toBe(401);
    const status = await fetch(`${url}/v1/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' },
      body: JSON.stringify({ podUid: uid, state: 'started' }),
    });
    expect(status.status).toBe(401);
    await ns.core.deleteNamespacedPod({ namespace: ns.name, name: 'my-gpu-workload' });
    await eventually(
      async () =>
        (await ns.core.listNamespacedPod({ namespace: ns.name })).items.length === 0 ? true : undefined,
      { what: 'the pod finalized after its instance was destroyed', timeoutMs: 60_000 },
    );
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('fails with exit 2 and names the variables when no provider is configured', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'anex-run-'));
    dirs.push(dataDir);
    const run = cli(['run', '--kubeconfig', controlPlane().kubeconfigPath, '--data-dir', dataDir], {
      VAST_API_KEY: '',
      RUNPOD_API_KEY: '',
    });
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('set VAST_API_KEY or RUNPOD_API_KEY, or pass --simulate');
  });
});
