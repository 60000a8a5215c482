import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { adminKubeConfig, controlPlane, createTestNamespace, eventually } from '../../support/index.ts';
import { kubectlBinary } from '../../support/kubectl.ts';
import { type CliProcess, REPO, startCli } from './cli-process.ts';

/**
 * `anex run` serves the kubelet API itself (issue #15, ADR 0023 "Local mode"): anex-kubelet
 * as its child, the nodes advertising its address, and the real API server reaching it for
 * `kubectl logs` / `kubectl exec` of pods on simulated machines (no gateway: untunnelled).
 */

const started: CliProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const p of started.splice(0)) p.kill();
});

afterAll(async () => {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  for (const name of ['anex-vastai', 'anex-runpod']) await core.deleteNode({ name }).catch(() => undefined);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** The example pod with another command (run on this host by the simulated machine). */
function aPod(name: string, script: string, restartPolicy: 'Never' | 'Always'): V1Pod {
  const pod = parse(readFileSync(join(REPO, 'examples/seed-pod.yaml'), 'utf8')) as V1Pod;
  const container = pod.spec?.containers[0];
  if (pod.metadata === undefined || pod.spec === undefined || container === undefined)
    throw new Error('examples/seed-pod.yaml has no container');
  pod.metadata.name = name;
  container.command = ['/bin/sh', '-c', script];
  pod.spec.restartPolicy = restartPolicy;
  return pod;
}

interface KubectlRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kubectl(args: readonly string[]): Promise<KubectlRun> {
  return new Promise((resolve) => {
    execFile(
      kubectlBinary(),
      ['--kubeconfig', controlPlane().kubeconfigPath, ...args],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function phaseOf(core: CoreV1Api, namespace: string, name: string, phases: string[]): Promise<V1Pod> {
  return eventually(
    async () => {
      const pod = await core.readNamespacedPod({ namespace, name });
      return phases.includes(pod.status?.phase ?? '') ? pod : undefined;
    },
    { what: `pod ${name} ${phases.join(' or ')}`, timeoutMs: 120_000 },
  );
}

/** The anex-kubelet processes whose token file is in `dir` (one served by one anex run). */
function kubeletPids(dir: string): Promise<number[]> {
  return new Promise((resolve) =>
    execFile('ps', ['-eo', 'pid=,args='], (_error, stdout) =>
      resolve(
        stdout
          .split('\n')
          .filter((line) => line.includes(`--peers-token-file=${dir}/peers-token`))
          .map((line) => Number.parseInt(line.trim(), 10)),
      ),
    ),
  );
}

describe('anex run serves the kubelet API (anex-kubelet as its child)', () => {
  it('the nodes advertise it and kubectl logs / exec reach it through the API server', async () => {
    const ns = await createTestNamespace('run-kubelet');
    const dataDir = await mkdtemp(join(tmpdir(), 'anex-run-'));
    dirs.push(dataDir);
    const run = startCli([
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
    ]);
    started.push(run);
    await run.waitFor(/kubelet API: serving anex-kubelet on 127\.0\.0\.1 \(a free port\)/, 'the plan');
    const line = await run.waitFor(
      /kubelet API \(anex-kubelet\) on https:\/\/127\.0\.0\.1:\d+, advertised by the nodes for kubectl logs\/exec; its log: \S+/,
      'anex-kubelet to answer /healthz',
      180_000,
    );
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
    const logPath = line.split('its log: ')[1] ?? '';
    await run.waitFor(/anex run: nodes anex-vastai, anex-runpod/, 'anex run to start');

    // The node advertises the served address (InternalIP only, the kubelet port).
    const node = await ns.core.readNode({ name: 'anex-vastai' });
    expect(node.status?.addresses).toEqual([{ type: 'InternalIP', address: '127.0.0.1' }]);
    expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(port);

    // A run that ended: the API server asks anex-kubelet, which answers with the tail the
    // agent saved at exit (GET /v1/logs with the credential only it and the endpoint share).
    await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aPod('ended', 'echo first-line-e2e; echo second-line-e2e; exit 0', 'Never'),
    });
    await phaseOf(ns.core, ns.name, 'ended', ['Succeeded']);
    const logs = await eventually(
      async () => {
        const result = await kubectl(['logs', '-n', ns.name, 'ended']);
        return result.code === 0 ? result : undefined;
      },
      { what: 'kubectl logs of the ended pod', timeoutMs: 30_000 },
    );
    expect(logs.stdout).toBe('first-line-e2e\nsecond-line-e2e\n');
    const tail = await kubectl(['logs', '-n', ns.name, 'ended', '--tail', '1']);
    expect(tail.stdout).toBe('second-line-e2e\n');

    // anex-kubelet killed: anex run says so, starts it again on the same address, and the
    // API server reaches the new one.
    const dir = dirname(logPath);
    const pids = await kubeletPids(dir);
    expect(pids).toHaveLength(1);
    process.kill(pids[0] as number, 'SIGKILL');
    await run.waitFor(
      /anex-kubelet exited \(signal SIGKILL\) after \d+\.\d s; restarting it in 1 s \(restart 1 of 5\)/,
      'the restart line',
    );
    await run.waitFor(new RegExp(`anex-kubelet is serving again on 127\\.0\\.0\\.1:${port}`), 'the restart');
    expect(await kubeletPids(dir)).not.toEqual(pids);
    expect((await kubectl(['logs', '-n', ns.name, 'ended'])).stdout).toBe(logs.stdout);

    // A running pod without the tunnel (no gateway): exec and live logs are refused, saying why.
    await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aPod('running', 'echo up; sleep 600', 'Always'),
    });
    await phaseOf(ns.core, ns.name, 'running', ['Running']);
    const exec = await kubectl(['exec', '-n', ns.name, 'running', '--', 'true']);
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toContain(
      `pod ${ns.name}/running runs without a tunnel, so exec is not available; only the log tail saved at exit is served`,
    );
    // Live logs: anex-kubelet answers 400 "runs without a tunnel…, none is saved yet", whose
    // body the API server passes on to kubectl (a 503's it would replace with its own).
    const live = await kubectl(['logs', '-n', ns.name, 'running']);
    expect(live.code).not.toBe(0);
    expect(live.stderr).toContain(
      `Error from server (BadRequest): pod ${ns.name}/running runs without a tunnel; only the log tail saved at exit is served, and none is saved yet`,
    );

    // The credential is a file only anex-kubelet reads; it is never in anex run's output.
    const tokenFile = join(dir, 'peers-token');
    expect(existsSync(tokenFile)).toBe(true);
    const token = readFileSync(tokenFile, 'utf8');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(run.stdout() + run.stderr()).not.toContain(token);

    await ns.core.deleteNamespacedPod({ namespace: ns.name, name: 'running' });
    await ns.core.deleteNamespacedPod({ namespace: ns.name, name: 'ended' });
    await eventually(
      async () =>
        (await ns.core.listNamespacedPod({ namespace: ns.name })).items.length === 0 ? true : undefined,
      { what: 'the pods finalized', timeoutMs: 60_000 },
    );
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    // Stopped with anex run: its directory (token file included) is gone, its port closed.
    expect(existsSync(dir)).toBe(false);
    expect(await kubeletPids(dir)).toEqual([]);
    await expect(fetch(`https://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('--no-kubelet serves none and the nodes advertise no address; without an agent endpoint it says why', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'anex-run-'));
    dirs.push(dataDir);
    const run = startCli([
      'run',
      '--simulate',
      '--no-kubelet',
      '--kubeconfig',
      controlPlane().kubeconfigPath,
      '--data-dir',
      dataDir,
    ]);
    started.push(run);
    await run.waitFor(/anex run: nodes anex-vastai, anex-runpod/, 'anex run to start');
    expect(run.stderr()).toContain(
      'kubelet API: not served (--no-kubelet): kubectl logs and exec on anex pods fail',
    );
    const node = await adminKubeConfig().makeApiClient(CoreV1Api).readNode({ name: 'anex-vastai' });
    expect(node.status?.addresses).toEqual([{ type: 'Hostname', address: 'anex-vastai' }]);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    // --kubelet-listen without an agent endpoint (no --simulate, no --agent-endpoint-url).
    const refused = startCli(
      [
        'run',
        '--kubelet-listen',
        '127.0.0.1:0',
        '--kubeconfig',
        controlPlane().kubeconfigPath,
        '--data-dir',
        dataDir,
      ],
      { VAST_API_KEY: 'test-key', VAST_API_URL: 'http://127.0.0.1:9' },
    );
    started.push(refused);
    expect(await refused.exited).toBe(2);
    expect(refused.stderr()).toContain(
      '--kubelet-listen: there is no agent endpoint (--simulate or --agent-endpoint-url serve one)',
    );
  });
});
