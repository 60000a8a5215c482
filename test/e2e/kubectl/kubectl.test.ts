import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_CONTAINER } from '../../../lib/state/store.ts';
import { controlPlane } from '../../support/index.ts';
import { kubectlBinary } from '../../support/kubectl.ts';
import { freePort } from '../../support/ports.ts';
import {
  GW_PUBLIC,
  HTTP_PORT,
  KUBELET_PORT,
  type KubectlGround,
  serviceAccountToken,
  startKubectlGround,
  UNDECLARED_PORT,
  writeSucceeded,
} from './kubectl-ground.ts';

/**
 * Issue #15 "Done when" (logs, exec, cp, port-forward, refusals), ADR 0023, end to end: the
 * real kubectl against the real API server, which dials the node's advertised kubelet
 * address — anex-kubelet in the real gateway's network namespace — which reaches the pod's
 * Go agent through the real WireGuard tunnel on a simulated machine that really runs
 * (kubectl-ground.ts draws the picture). Each case drives kubectl as a user types it.
 */

const exec = promisify(execFile);
let ground: KubectlGround;

beforeAll(async () => {
  ground = await startKubectlGround();
}, 480_000);

afterAll(async () => {
  await ground?.stop();
});

function the(): KubectlGround {
  if (ground === undefined) throw new Error('the kubectl ground did not start');
  return ground;
}

/** `tick <n>` lines of a log, as numbers. */
function ticks(log: string): number[] {
  return [...log.matchAll(/^(?:\S+ )?tick (\d+)$/gm)].map((m) => Number(m[1]));
}

/** kubectl's result, failing with its stderr when it did not exit 0. */
async function ok(args: readonly string[], input?: string): Promise<string> {
  const result = await the().kubectl(args, input === undefined ? {} : { input });
  if (result.code !== 0)
    throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** curl from the root namespace (where the API server runs) to the kubelet API. */
async function curlKubelet(path: string, token?: string): Promise<{ status: number; body: string }> {
  const args = ['-sk', '--max-time', '10', '-w', '\n%{http_code}'];
  if (token !== undefined) args.push('-H', `Authorization: Bearer ${token}`);
  const { stdout } = await exec('curl', [...args, `https://${GW_PUBLIC}:${KUBELET_PORT}${path}`]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

describe('kubectl on an anex pod, through the API server, anex-kubelet and the tunnel', () => {
  describe('logs while the container runs', () => {
    it('returns the line the container printed', async () => {
      const { pod, mark } = the();
      expect(await ok(['logs', pod])).toContain(`known-line-${mark}\n`);
    });

    it('-f streams a line printed after it started', async () => {
      const { pod } = the();
      const before = Math.max(0, ...ticks(await ok(['logs', pod])));
      const child = the().spawnKubectl(['logs', '-f', pod]);
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      let err = '';
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        err += chunk;
      });
      try {
        const deadline = Date.now() + 30_000;
        while (!ticks(out).some((n) => n > before + 1) && Date.now() < deadline) await sleep(200);
        expect(
          ticks(out).filter((n) => n > before + 1),
          `logs -f printed:\n${out}\n${err}`,
        ).not.toEqual([]);
        expect(child.exitCode).toBeNull();
      } finally {
        child.kill();
      }
    });

    it('--tail=1 prints the last line only', async () => {
      const out = await ok(['logs', the().pod, '--tail=1']);
      expect(out.trimEnd().split('\n')).toHaveLength(1);
      expect(out).toMatch(/^tick \d+\n$/);
    });

    it('--since leaves out what is older', async () => {
      const { pod, mark } = the();
      // The known line is at least 8 s old once `tick 8` is out.
      await waitFor(() => ticks(the().containerLog()).some((n) => n >= 8), 'tick 8');
      const recent = await ok(['logs', pod, '--since=3s']);
      expect(recent).not.toContain(`known-line-${mark}`);
      expect(ticks(recent).length).toBeGreaterThanOrEqual(1);
      expect(await ok(['logs', pod, '--since=1h'])).toContain(`known-line-${mark}\n`);
    });

    it('--timestamps puts an RFC 3339 time before each line', async () => {
      const { pod, mark } = the();
      const out = await ok(['logs', pod, '--timestamps']);
      const line = out.split('\n').find((l) => l.endsWith(`known-line-${mark}`)) ?? '';
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z known-line-[0-9a-f]+$/);
      const at = Date.parse(line.split(' ')[0] ?? '');
      expect(Math.abs(Date.now() - at)).toBeLessThan(600_000);
    });
  });

  describe('exec', () => {
    it('runs a command in the container and prints its output', async () => {
      expect(await ok(['exec', the().pod, '--', 'sh', '-c', 'echo $((6*7))'])).toBe('42\n');
    });

    it.each([0, 3, 42])('passes the exit code %i through', async (code) => {
      const result = await the().kubectl(['exec', the().pod, '--', 'sh', '-c', `exit ${code}`]);
      expect(result.code, result.stderr).toBe(code);
    });

    it('-i feeds stdin to the command', async () => {
      expect(await ok(['exec', '-i', the().pod, '--', 'sh', '-c', 'tr a-z A-Z'], 'hello stdin\n')).toBe(
        'HELLO STDIN\n',
      );
    });

    it('-it runs the command on a terminal (kubectl under script(1))', async () => {
      const { pod, namespace } = the();
      const command = `kubectl --namespace ${namespace} exec -it ${pod} -- sh -c '[ -t 0 ] && [ -t 1 ] && echo on-a-tty-$((6*7)); stty size'`;
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        env: {
          ...process.env,
          PATH: `${dirname(kubectlBinary())}:${process.env.PATH}`,
          KUBECONFIG: controlPlane().kubeconfigPath,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('close', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      child.stdin.end();
      expect(out, out).toContain('on-a-tty-42');
      // A terminal has a size (stty fails on a pipe).
      expect(out).toMatch(/\b\d+ \d+\r?\n/);
      expect(code).toBe(0);
    });
  });

  it('cp copies a file in and back out (tar over exec)', async () => {
    const { pod, mark } = the();
    const dir = mkdtempSync(join(tmpdir(), 'anex-kubectl-cp-'));
    try {
      const content = `copied ${mark}\n${'x'.repeat(100_000)}\n`;
      writeFileSync(join(dir, 'in.txt'), content);
      await ok(['cp', join(dir, 'in.txt'), `${pod}:/tmp/in-${mark}.txt`]);
      expect(await ok(['exec', pod, '--', 'sh', '-c', `wc -c < /tmp/in-${mark}.txt`])).toBe(
        `${Buffer.byteLength(content)}\n`,
      );
      await ok(['exec', pod, '--', 'sh', '-c', `echo made-in-pod-${mark} > /tmp/out-${mark}.txt`]);
      await ok(['cp', `${pod}:/tmp/out-${mark}.txt`, join(dir, 'out.txt')]);
      expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe(`made-in-pod-${mark}\n`);
      await ok(['cp', `${pod}:/tmp/in-${mark}.txt`, join(dir, 'back.txt')]);
      expect(readFileSync(join(dir, 'back.txt'), 'utf8')).toBe(content);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('port-forward', () => {
    it('forwards a local port to the declared containerPort: curl gets the server’s answer', async () => {
      const { pod, mark } = the();
      const local = await freePort();
      const child = the().spawnKubectl(['port-forward', `pod/${pod}`, `${local}:${HTTP_PORT}`]);
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      try {
        const deadline = Date.now() + 30_000;
        while (!out.includes('Forwarding from') && Date.now() < deadline) await sleep(100);
        expect(out).toContain(`Forwarding from 127.0.0.1:${local} -> ${HTTP_PORT}`);
        for (const _ of [1, 2]) {
          const { stdout } = await exec('curl', [
            '-s',
            '--max-time',
            '15',
            `http://127.0.0.1:${local}/hello.txt`,
          ]);
          expect(stdout, out).toBe(`served-${mark}\n`);
        }
      } finally {
        child.kill();
      }
    });

    it('refuses an undeclared port (even one the container listens on)', async () => {
      const { pod } = the();
      // It does listen there: the refusal is the agent's, not an empty port.
      expect(
        await ok([
          'exec',
          pod,
          '--',
          'curl',
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          `http://127.0.0.1:${UNDECLARED_PORT}/`,
        ]),
      ).toBe('200');
      const local = await freePort();
      const child = the().spawnKubectl(['port-forward', `pod/${pod}`, `${local}:${UNDECLARED_PORT}`]);
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      try {
        const deadline = Date.now() + 30_000;
        while (!out.includes('Forwarding from') && Date.now() < deadline) await sleep(100);
        const curl = await exec('curl', [
          '-s',
          '--max-time',
          '15',
          `http://127.0.0.1:${local}/hello.txt`,
        ]).catch((error: { stdout?: string; code?: number }) => ({
          stdout: error.stdout ?? '',
          code: error.code,
        }));
        expect(curl.stdout).not.toContain('undeclared-');
        // The agent's refusal, relayed by anex-kubelet and the API server to kubectl.
        const refusal = `port ${UNDECLARED_PORT} is not a containerPort this pod declares (declared: ${HTTP_PORT})`;
        await waitFor(() => out.includes(refusal), 'kubectl printing the agent’s refusal', 10_000);
      } finally {
        child.kill();
      }
    });
  });

  it('the node proxy serves the pod’s figures from its agent (/stats/summary, /metrics/resource for kubectl top)', async () => {
    const { namespace, pod, nodeName } = the();
    const summary = await the().kubectl(['get', '--raw', `/api/v1/nodes/${nodeName}/proxy/stats/summary`]);
    expect(summary.code, summary.stderr).toBe(0);
    const stats = JSON.parse(summary.stdout) as {
      pods: {
        podRef: { name: string };
        cpu?: { usageCoreNanoSeconds?: number };
        memory?: { workingSetBytes?: number };
      }[];
    };
    const figures = stats.pods.find((p) => p.podRef.name === pod);
    expect(figures?.cpu?.usageCoreNanoSeconds).toBeGreaterThan(0);
    expect(figures?.memory?.workingSetBytes).toBeGreaterThan(0);

    const metrics = await the().kubectl(['get', '--raw', `/api/v1/nodes/${nodeName}/proxy/metrics/resource`]);
    expect(metrics.code, metrics.stderr).toBe(0);
    const labels = `container="main",pod="${pod}",namespace="${namespace}"`;
    // name{labels} value timestamp-ms, as the kubelet's resource metrics collector writes them.
    const sample = (name: string): RegExpMatchArray | null =>
      metrics.stdout.match(new RegExp(`^${name}\\{${labels}\\} ([0-9.e+]+) (\\d+)$`, 'm'));
    const cpu = sample('container_cpu_usage_seconds_total');
    const memory = sample('container_memory_working_set_bytes');
    expect(Number(cpu?.[1])).toBeGreaterThan(0);
    expect(Number(memory?.[1])).toBeGreaterThan(0);
    // Stamped in milliseconds (not seconds): a time within the last hour.
    expect(Number(cpu?.[2])).toBeGreaterThan(Date.now() - 3_600_000);
    expect(metrics.stdout).toMatch(/^resource_scrape_error 0$/m);
  });

  describe('the kubelet API refuses', () => {
    it('an unauthenticated call (401)', async () => {
      const { namespace, pod } = the();
      const answer = await curlKubelet(`/containerLogs/${namespace}/${pod}/main`);
      expect(answer.status).toBe(401);
      expect(answer.body).not.toContain('known-line');
    });

    it('a ServiceAccount without nodes/proxy (403), and serves one with it', async () => {
      const { namespace, pod, core, kubeConfig, nodeName, mark } = the();
      const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
      // Without: may read pods and their logs through the API server, but not nodes/proxy.
      await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'reader' } } });
      await rbac.createNamespacedRole({
        namespace,
        body: {
          metadata: { name: 'reader' },
          rules: [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list'] }],
        },
      });
      await rbac.createNamespacedRoleBinding({
        namespace,
        body: {
          metadata: { name: 'reader' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
          subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace }],
        },
      });
      // With: get on nodes/proxy of this node only.
      const granted = `anex-kubectl-proxy-${nodeName}`;
      await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'proxy' } } });
      await rbac.createClusterRole({
        body: {
          metadata: { name: granted },
          rules: [{ apiGroups: [''], resources: ['nodes/proxy'], resourceNames: [nodeName], verbs: ['get'] }],
        },
      });
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: granted },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: granted },
          subjects: [{ kind: 'ServiceAccount', name: 'proxy', namespace }],
        },
      });
      try {
        const path = `/containerLogs/${namespace}/${pod}/main`;
        const reader = await serviceAccountToken(core, namespace, 'reader');
        const refused = await curlKubelet(path, reader);
        expect(refused.status).toBe(403);
        // The kubelet's own wording of a denied SubjectAccessReview.
        expect(refused.body).toContain('resource=nodes, subresource(s)=[proxy]');
        expect(refused.body).not.toContain('known-line');
        // The same token reads the logs through the API server (pods/log), which calls the
        // kubelet as itself.
        const through = await the().kubectl(['--token', reader, 'logs', pod]);
        expect(through.stdout).toContain(`known-line-${mark}`);
        const proxy = await serviceAccountToken(core, namespace, 'proxy');
        const served = await curlKubelet(path, proxy);
        expect(served.status).toBe(200);
        expect(served.body).toContain(`known-line-${mark}\n`);
      } finally {
        await rbac.deleteClusterRoleBinding({ name: granted }).catch(() => undefined);
        await rbac.deleteClusterRole({ name: granted }).catch(() => undefined);
      }
    });
  });

  it('logs --previous returns the run before a restart in place (restartPolicy OnFailure)', async () => {
    const g = the();
    await ok(['exec', g.pod, '--', 'touch', `/tmp/fail-${g.mark}`]);
    await waitFor(() => g.containerLog().includes(`run-1-${g.mark}\n`), 'the restarted run', 90_000);
    const previous = await ok(['logs', g.pod, '--previous']);
    expect(previous).toContain(`run-0-${g.mark}\n`);
    expect(previous).toContain(`failing-${g.mark}\n`);
    expect(previous).not.toContain(`run-1-${g.mark}`);
    const current = await ok(['logs', g.pod]);
    expect(current).toContain(`run-1-${g.mark}\n`);
    expect(current).not.toContain(`run-0-${g.mark}`);
    // The restarted run answers exec too.
    expect(await ok(['exec', g.pod, '--', 'cat', `/tmp/runs-${g.mark}`])).toBe('2\n');
  });

  describe('after the container exited and its machine was destroyed', () => {
    it('logs answer from the tail the agent saved at exit', async () => {
      const g = the();
      await ok(['exec', g.pod, '--', 'touch', `/tmp/stop-${g.mark}`]);
      await waitFor(() => g.containerLog().includes(`last-line-${g.mark}\n`), 'the container’s last line');
      await waitFor(
        async () => (await g.store.getLogTail(g.podUid, APP_CONTAINER)) !== undefined,
        'the saved tail',
      );
      expect(await g.adapter.destroy(g.instanceId, {})).toBe('destroyed');
      await waitFor(() => g.runner.machines().size === 0, 'the machine stopping');
      // What the reconciler does once the run ended: the status, the address released.
      await writeSucceeded(g.core, g.namespace, g.pod);
      for (const a of await g.store.listAddresses())
        if (a.podUid === g.podUid) await g.store.releaseAddress(a.address, g.podUid);
      const out = await ok(['logs', g.pod]);
      expect(out).toContain(`known-line-${g.mark}\n`);
      expect(out).toContain(`last-line-${g.mark}\n`);
      expect(await ok(['logs', g.pod, '--tail=1'])).toBe(`last-line-${g.mark}\n`);
      // Both runs' tails were saved: --previous answers the failed one.
      const previous = await ok(['logs', g.pod, '--previous']);
      expect(previous).toContain(`failing-${g.mark}\n`);
      expect(previous).not.toContain(`last-line-${g.mark}`);
    });

    it('leaves nothing behind: no instance, machine, machine process or machine link', async () => {
      const g = the();
      expect(g.runner.machines().size).toBe(0);
      expect(g.runner.liveProcesses()).toEqual([]);
      expect(g.sim.liveInstances()).toEqual([]);
      expect(g.netns.exec('in', ['ip', '-o', 'link', 'show']).match(/\bam[0-9a-f]{8}o\b/g)).toBeNull();
    });
  });
});

async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
