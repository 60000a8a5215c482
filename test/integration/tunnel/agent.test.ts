import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../lib/local/control-plane/processes.ts';
import { agentStub, STUB_BUDGET } from '../../../lib/tunnel/agent/stub.ts';
import { builtAgentArtifact } from '../../../lib/tunnel/self-built.ts';
import { agentBuildDir, wstunnelBinary } from '../../support/agent-build.ts';
import {
  type AgentRun,
  builtManifest,
  finished,
  podAndToken,
  runCleanups,
  SERVICE_TEXT,
  spawnAgent,
  WSTUNNEL_PREFIX,
  workload,
  world,
} from '../../support/agent-world.ts';
import type { WstunnelServer } from '../../support/wstunnel.ts';

/**
 * The Go agent (lib/tunnel/agent-build/agent) as a provider launches it — `/bin/sh -c <stub>`
 * under dash, the stub fetching the binary from the endpoint's /v1/agent/<arch> — against the
 * real endpoint: bootstrap, verified helper downloads, the tunnel up through a gateway
 * wireproxy, the pod's command through the HTTP proxy and a GW_TUNNEL port, status reports,
 * signals and the dead-man's switch.
 */

afterEach(runCleanups);

const artifact = () => builtAgentArtifact(builtManifest());

/** The launch as every provider runs it: the stub, under dash, fetching and exec'ing the agent. */
function launch(env: Record<string, string>): AgentRun {
  return spawnAgent('dash', ['-c', agentStub(artifact())], env);
}

/** The agent binary started directly (the stub's last step), for cases about the agent alone. */
function runAgent(env: Record<string, string>): AgentRun {
  const file = builtManifest().binaries.agent.assets.amd64.file;
  return spawnAgent(join(agentBuildDir(), file), [], env);
}

describe('the Go agent', () => {
  it.each(['binary', 'tar.gz'] as const)(
    'as launched: the stub fetches and checks the agent, which brings the tunnel up (wireproxy as %s), runs the command through it and reports its exit code',
    async (format) => {
      const w = await world({ format, agentBinary: true });
      const out = join(w.scope.dir, 'out.txt');
      const { pod, token, env } = await podAndToken(w, workload(w, out));
      expect(agentStub(artifact()).length).toBeLessThanOrEqual(STUB_BUDGET);
      const result = await finished(launch(env));
      expect(result.stderr).toContain('tunnel ready');
      expect(result.stderr).toContain(
        `agent 4 bootstrapped pod ${pod.podUid}; running "sh" through the tunnel`,
      );
      expect(result.code).toBe(7);
      expect(readFileSync(out, 'utf8')).toBe(`${SERVICE_TEXT}\n${SERVICE_TEXT} hi there\n`);
      expect(w.h.backend.reports(pod.podUid).map((r) => [r.state, r.exitCode])).toEqual([
        ['started', undefined],
        ['exited', 7],
      ]);
      const [allocation] = await w.h.store.listAddresses();
      expect(allocation?.publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/); // the agent made its own key
      expect(w.h.logger.lines.find((l) => l.message === 'agent bootstrapped')?.fields?.keySource).toBe(
        'agent',
      );
      expect(result.stderr).not.toContain(token);
      expect(result.stderr).not.toMatch(/PrivateKey|[A-Za-z0-9+/]{43}=/);
      expect(w.h.logger.text()).not.toContain(token);
    },
  );

  it('the stub refuses an agent whose checksum differs, and runs nothing', async () => {
    const w = await world({ format: 'binary', agentBinary: true });
    const { pod, env } = await podAndToken(w, { command: ['true'] });
    const wrong = '0'.repeat(64);
    const result = await finished(
      spawnAgent('dash', ['-c', agentStub({ sha256: { amd64: wrong, arm64: wrong }, run: 'exec' })], env),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`anex-stub: agent checksum mismatch: expected ${wrong}, got [0-9a-f]{64}`),
    );
    expect(w.h.backend.reports(pod.podUid)).toEqual([]);
  });

  it('the stub refuses a plain-HTTP endpoint without the insecure flag, and downloads nothing', async () => {
    const w = await world({ format: 'binary', agentBinary: true });
    const { env } = await podAndToken(w, { command: ['true'] });
    const result = await finished(launch({ ...env, ANEX_AGENT_INSECURE: '' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `anex-stub: refusing http:// (${w.url}; ANEX_AGENT_INSECURE=1 allows it on loopback)`,
    );
  });

  it('without a tunnel (transport none) downloads no helper and runs the command', async () => {
    const w = await world({ format: 'binary', corruptChecksum: true, agentBinary: true });
    const out = join(w.scope.dir, 'plain.txt');
    const { pod, env } = await podAndToken(w, {
      transport: 'none',
      command: ['sh', '-c', 'echo "no tunnel: $GREETING" > "$OUT"; exit 3'],
      env: { OUT: out, GREETING: 'hello' },
    });
    const result = await finished(launch(env));
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('without a tunnel');
    expect(readFileSync(out, 'utf8')).toBe('no tunnel: hello\n');
    expect(w.h.backend.reports(pod.podUid).map((r) => [r.state, r.exitCode])).toEqual([
      ['started', undefined],
      ['exited', 3],
    ]);
  });

  it('aborts on a wrong helper checksum, reports failed and runs nothing', async () => {
    const w = await world({ format: 'binary', corruptChecksum: true });
    const marker = join(w.scope.dir, 'ran');
    const { pod, env } = await podAndToken(w, { command: ['touch', marker] });
    const result = await finished(runAgent(env));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /checksum mismatch for wireproxy from http:\/\/127\.0\.0\.1:\d+\/wireproxy: expected SHA-256 [0-9a-f]{64}, got [0-9a-f]{64}; refusing to run it/,
    );
    const reports = w.h.backend.reports(pod.podUid);
    expect(reports.map((r) => r.state)).toEqual(['failed']);
    expect(reports[0]?.reason).toContain('checksum mismatch for wireproxy');
    expect(existsSync(marker)).toBe(false);
  });

  it('cannot reuse a token: an agent in another container is refused', async () => {
    const w = await world({ format: 'binary', corruptChecksum: true });
    const { env } = await podAndToken(w, { command: ['true'] });
    await finished(runAgent(env));
    const again = await finished(runAgent({ ...env, ANEX_AGENT_DIR: `${env.ANEX_AGENT_DIR}-other` }));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      'bootstrap refused (HTTP 401): {"error":"bootstrap token rejected (used)"}',
    );
  });

  it('a restart of the same container presents no token and runs nothing again: it reports the recorded end (runpod audit #7)', async () => {
    const w = await world({ format: 'binary' });
    const out = join(w.scope.dir, 'restart-runs.txt');
    const { pod, env } = await podAndToken(w, {
      transport: 'none',
      command: ['sh', '-c', 'echo ran >> "$OUT"; exit 5'],
      env: { OUT: out },
    });
    expect((await finished(runAgent(env))).code).toBe(5);
    const again = await finished(runAgent(env));
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('this container was started again');
    expect(again.stderr).not.toContain('bootstrap refused');
    expect(readFileSync(out, 'utf8')).toBe('ran\n');
    // The endpoint accepted the repeated report: the same end again (the reconciler's
    // applyReport ignores anything after the final exit; the memory backend keeps it all).
    expect(again.stderr).toContain("reported 'exited' again");
    const reports = w.h.backend.reports(pod.podUid);
    expect(reports.map((r) => [r.state, r.exitCode])).toEqual([
      ['started', undefined],
      ['exited', 5],
      ['exited', 5],
    ]);
  });

  it('refuses a plain-HTTP endpoint without the explicit insecure flag', async () => {
    const w = await world({ format: 'binary' });
    const { env } = await podAndToken(w, { command: ['true'] });
    const result = await finished(runAgent({ ...env, ANEX_AGENT_INSECURE: '' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('must be an https:// URL (http:// only with ANEX_AGENT_INSECURE=1)');
  });

  it("on the host's SIGTERM stops the command gracefully and reports the host's stop, not the workload's end", async () => {
    const w = await world({ format: 'binary' });
    const out = join(w.scope.dir, 'term.txt');
    const ready = join(w.scope.dir, 'term-ready');
    const { pod, env } = await podAndToken(w, {
      transport: 'none',
      command: [
        'sh',
        '-c',
        `trap 'echo got-term > "$OUT"; exit 42' TERM; touch "$READY"; while :; do sleep 0.2; done`,
      ],
      env: { OUT: out, READY: ready },
    });
    const run = runAgent(env);
    await waitUntil(async () => existsSync(ready) && w.h.backend.reports(pod.podUid).length > 0, {
      what: 'the workload handling SIGTERM',
      timeoutMs: 60_000,
    });
    run.child.kill('SIGTERM');
    const result = await finished(run);
    expect(result.code).toBe(42);
    expect(readFileSync(out, 'utf8')).toBe('got-term\n');
    // Nobody at anex asked for the stop: the provider stopped the container (protocol 3).
    expect(w.h.backend.reports(pod.podUid).map((r) => r.state)).toEqual(['started', 'failed']);
    expect(w.h.backend.reports(pod.podUid).at(-1)?.reason).toMatch(
      /^the host stopped the container \(terminated\) while run 0 ran; the workload exited with code 42$/,
    );
  });

  it("stops the workload when the control plane says the pod is gone (dead-man's switch)", async () => {
    const w = await world({ format: 'binary', aliveIntervalSeconds: 1 });
    const marker = join(w.scope.dir, 'still-running');
    const { pod, env } = await podAndToken(w, {
      transport: 'none',
      command: ['sh', '-c', `while :; do touch "${marker}"; sleep 0.2; done`],
    });
    const run = runAgent(env);
    await waitUntil(async () => existsSync(marker), { what: 'the workload running', timeoutMs: 60_000 });
    w.h.backend.endPod(pod.podUid);
    const result = await finished(run, 30_000);
    // SIGTERM (no grace given) ended the loop: 128 + 15, reported as the final exit (protocol 3).
    expect(result.code).toBe(143);
    expect(result.stderr).toContain('stopping: the control plane says this pod is gone');
    expect(w.h.backend.reports(pod.podUid).at(-1)).toMatchObject({ state: 'exited', exitCode: 143 });
    expect(w.h.backend.reports(pod.podUid).at(-1)?.restartInSeconds).toBeUndefined();
  });

  it("stops when the control plane stays unreachable past the dead-man's timeout", async () => {
    const w = await world({ format: 'binary', aliveIntervalSeconds: 1, deadManSeconds: 2 });
    const marker = join(w.scope.dir, 'still-running');
    const { env } = await podAndToken(w, {
      transport: 'none',
      command: ['sh', '-c', `while :; do touch "${marker}"; sleep 0.2; done`],
    });
    const run = runAgent(env);
    await waitUntil(async () => existsSync(marker), { what: 'the workload running', timeoutMs: 60_000 });
    await w.stopEndpoint();
    const result = await finished(run, 60_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/stopping: control plane unreachable for \d+s/);
  });

  it('on the wstunnel path starts the pinned client with TLS verification and the prefix in env only, and its traffic crosses the real wstunnel', async () => {
    const w = await world({ format: 'binary', wstunnel: true });
    const server = w.server as WstunnelServer;
    const out = join(w.scope.dir, 'out.txt');
    const record = join(w.scope.dir, 'wstunnel-started');
    const { pod, env } = await podAndToken(w, { ...workload(w, out), transport: 'wstunnel' });
    const result = await finished(
      runAgent({
        ...env,
        WSTUNNEL_RECORD: record,
        WSTUNNEL_REAL: wstunnelBinary(),
        // the test CA stands in for the public CA that signs a real gateway's certificate
        SSL_CERT_FILE: server.caFile,
      }),
    );
    expect(result.code).toBe(7);
    expect(readFileSync(out, 'utf8')).toBe(`${SERVICE_TEXT}\n${SERVICE_TEXT} hi there\n`);
    const started = readFileSync(record, 'utf8').trim().split('\n');
    const args = started.filter((l) => l.startsWith('arg ')).map((l) => l.slice(4));
    expect(args).toEqual([
      'client',
      '--tls-verify-certificate',
      '-L',
      expect.stringMatching(/^udp:\/\/127\.0\.0\.1:\d+:127\.0\.0\.1:\d+\?timeout_sec=0$/),
      server.url,
    ]);
    expect(args.join(' ')).not.toContain(WSTUNNEL_PREFIX);
    expect(started).toContain(`prefix-env ${WSTUNNEL_PREFIX}`);
    expect(result.stderr).not.toContain(WSTUNNEL_PREFIX);
    expect(w.h.backend.reports(pod.podUid).map((r) => r.state)).toEqual(['started', 'exited']);
  });
});
