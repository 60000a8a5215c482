import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../lib/local/control-plane/processes.ts';
import { AGENT_SCRIPT_URL } from '../../../lib/tunnel/agent/script.ts';
import {
  type AgentArtifact,
  agentStub,
  STUB_BUDGET,
  scriptAgentArtifact,
} from '../../../lib/tunnel/agent/stub.ts';
import { type AgentConfig, buildAgentConfig, tunnelled } from '../../../lib/tunnel/endpoint/agent-config.ts';
import { renderAgentBundle } from '../../../lib/tunnel/endpoint/bundle.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { wstunnelBinary } from '../../support/agent-build.ts';
import {
  type AgentRun,
  cleanups,
  finished,
  podAndToken,
  runCleanups,
  SERVICE_TEXT,
  spawnAgent,
  WSTUNNEL_PREFIX,
  workload,
  world,
} from '../../support/agent-world.ts';
import { aLaunch } from '../../support/tunnel.ts';
import type { WstunnelServer } from '../../support/wstunnel.ts';

/**
 * The agent script under `sh`, against the local agent endpoint: bootstrap, binary download
 * with checksum, tunnel up (a gateway wireproxy admits the agent's key from state), the
 * pod's command, and status reports visible in the in-memory backend.
 */

const AGENT_SCRIPT = AGENT_SCRIPT_URL.pathname;

afterEach(runCleanups);

/** The agent as a provider starts it: `/bin/sh -c <stub>` (dash here), which downloads and runs agent.sh; or agent.sh directly. */
function runAgent(env: Record<string, string>, via?: { stub: AgentArtifact }): AgentRun {
  const argv = via === undefined ? [AGENT_SCRIPT] : ['-c', agentStub(via.stub)];
  return spawnAgent(via === undefined ? 'sh' : 'dash', argv, env);
}

describe('agent.sh', () => {
  it.each([
    ['curl', 'tar.gz', 'Never'],
    ['wget', 'binary', 'Always'],
  ] as const)(
    "bootstraps with %s, verifies a %s download, runs the command through the tunnel and reports its exit code (restartPolicy %s: restarts are the control plane's)",
    async (client, format, restartPolicy) => {
      const w = await world({ format });
      const out = join(w.scope.dir, 'out.txt');
      const { pod, token, env } = await podAndToken(w, { ...workload(w, out), restartPolicy });
      const result = await finished(runAgent({ ...env, ANEX_AGENT_HTTP: client }));
      expect(result.stderr).toContain('tunnel ready');
      expect(result.code).toBe(7);
      expect(readFileSync(out, 'utf8')).toBe(`${SERVICE_TEXT}\n${SERVICE_TEXT} hi there\n`);
      expect(w.h.backend.reports(pod.podUid).map((r) => [r.state, r.exitCode])).toEqual([
        ['started', undefined],
        ['exited', 7],
      ]);
      const [allocation] = await w.h.store.listAddresses();
      expect(allocation?.publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/); // the agent made its own key
      expect(result.stderr).not.toContain(token);
      expect(result.stderr).not.toMatch(/PrivateKey|[A-Za-z0-9+/]{43}=/);
      expect(w.h.logger.text()).not.toContain(token);
    },
  );

  it('as launched: the stub (at most 1 KiB) downloads agent.sh from the endpoint, checks it and runs it to the same end', async () => {
    const w = await world({ format: 'binary' });
    const out = join(w.scope.dir, 'out.txt');
    const { pod, token, env } = await podAndToken(w, workload(w, out));
    expect(agentStub(scriptAgentArtifact()).length).toBeLessThanOrEqual(STUB_BUDGET);
    const result = await finished(runAgent(env, { stub: scriptAgentArtifact() }));
    expect(result.stderr).toContain('tunnel ready');
    expect(result.code).toBe(7);
    expect(readFileSync(out, 'utf8')).toBe(`${SERVICE_TEXT}\n${SERVICE_TEXT} hi there\n`);
    expect(w.h.backend.reports(pod.podUid).map((r) => [r.state, r.exitCode])).toEqual([
      ['started', undefined],
      ['exited', 7],
    ]);
    expect(result.stderr).not.toContain(token);
  });

  it('the stub refuses an agent whose checksum differs, and runs nothing', async () => {
    const w = await world({ format: 'binary' });
    const { pod, env } = await podAndToken(w, { command: ['true'] });
    const wrong = '0'.repeat(64);
    const result = await finished(
      runAgent(env, { stub: { sha256: { amd64: wrong, arm64: wrong }, run: 'sh' } }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`anex-stub: agent checksum mismatch: expected ${wrong}, got [0-9a-f]{64}`),
    );
    expect(w.h.backend.reports(pod.podUid)).toEqual([]);
  });

  it('the stub refuses a plain-HTTP endpoint without the insecure flag, and downloads nothing', async () => {
    const w = await world({ format: 'binary' });
    const { env } = await podAndToken(w, { command: ['true'] });
    const result = await finished(
      runAgent({ ...env, ANEX_AGENT_INSECURE: '' }, { stub: scriptAgentArtifact() }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `anex-stub: refusing http:// (${w.url}; ANEX_AGENT_INSECURE=1 allows it on loopback)`,
    );
  });

  it('aborts with a clear message on a wrong checksum and reports failed', async () => {
    const w = await world({ format: 'binary', corruptChecksum: true });
    const { pod, env } = await podAndToken(w, { command: ['true'] });
    const result = await finished(runAgent(env));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /checksum mismatch for wireproxy from http:\/\/127\.0\.0\.1:\d+\/wireproxy: expected SHA-256 [0-9a-f]{64}, got [0-9a-f]{64}; refusing to run it/,
    );
    const reports = w.h.backend.reports(pod.podUid);
    expect(reports.map((r) => r.state)).toEqual(['failed']);
    expect(reports[0]?.reason).toContain('checksum mismatch for wireproxy');
  });

  it('cannot reuse a token: the second agent is refused', async () => {
    const w = await world({ format: 'binary', corruptChecksum: true });
    const { env } = await podAndToken(w, { command: ['true'] });
    await finished(runAgent(env));
    const again = await finished(runAgent(env));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      'bootstrap refused (HTTP 401): {"error":"bootstrap token rejected (used)"}',
    );
  });

  it('refuses a plain-HTTP endpoint without the explicit insecure flag', async () => {
    const w = await world({ format: 'binary' });
    const { env } = await podAndToken(w, { command: ['true'] });
    const result = await finished(runAgent({ ...env, ANEX_AGENT_INSECURE: '' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'ANEX_AGENT_URL must be an https:// URL (http:// only with ANEX_AGENT_INSECURE=1)',
    );
  });

  it('forwards SIGTERM to the command and reports how it exited', async () => {
    const w = await world({ format: 'binary' });
    const out = join(w.scope.dir, 'term.txt');
    const ready = join(w.scope.dir, 'term-ready');
    const { pod, env } = await podAndToken(w, {
      command: [
        'sh',
        '-c',
        `trap 'echo got-term > "$OUT"; exit 42' TERM; touch "$READY"; while :; do sleep 0.2; done`,
      ],
      env: { OUT: out, READY: ready },
    });
    const run = runAgent(env);
    // Signal only once the workload has installed its handler.
    await waitUntil(async () => existsSync(ready) && w.h.backend.reports(pod.podUid).length > 0, {
      what: 'the workload handling SIGTERM',
      timeoutMs: 60_000,
    });
    run.child.kill('SIGTERM');
    const result = await finished(run);
    expect(result.code).toBe(42);
    expect(readFileSync(out, 'utf8')).toBe('got-term\n');
    expect(w.h.backend.reports(pod.podUid).map((r) => [r.state, r.exitCode])).toEqual([
      ['started', undefined],
      ['exited', 42],
    ]);
  });

  it("stops the workload and the instance when the control plane says the pod is gone (dead-man's switch)", async () => {
    const w = await world({ format: 'binary', aliveIntervalSeconds: 1 });
    const marker = join(w.scope.dir, 'still-running');
    const { pod, env } = await podAndToken(w, {
      command: ['sh', '-c', `while :; do touch "${marker}"; sleep 0.2; done`],
    });
    const run = runAgent(env);
    await waitUntil(async () => existsSync(marker), { what: 'the workload running', timeoutMs: 60_000 });
    w.h.backend.endPod(pod.podUid);
    const result = await finished(run, 30_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('stopping: the control plane says this pod is gone');
    expect(w.h.backend.reports(pod.podUid).at(-1)).toMatchObject({
      state: 'failed',
      reason: "stopped by the dead-man's switch: the control plane says this pod is gone",
    });
  });

  it("stops when the control plane stays unreachable past the dead-man's timeout", async () => {
    const w = await world({ format: 'binary', aliveIntervalSeconds: 1, deadManSeconds: 2 });
    const marker = join(w.scope.dir, 'still-running');
    const { env } = await podAndToken(w, {
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
    // The workload reached the cluster service: its UDP could only cross the WebSocket.
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
    expect(server.process.logTail(100)).not.toContain(WSTUNNEL_PREFIX);
    expect(started).toContain(`prefix-env ${WSTUNNEL_PREFIX}`);
    expect(result.stderr).not.toContain(WSTUNNEL_PREFIX);
    expect(w.h.backend.reports(pod.podUid).map((r) => r.state)).toEqual(['started', 'exited']);
  });

  it('works without openssl: the endpoint makes the key pair and returns it once', async () => {
    const w = await world({ format: 'tar.gz' });
    const out = join(w.scope.dir, 'out.txt');
    const { pod, env } = await podAndToken(w, workload(w, out));
    const result = await finished(runAgent({ ...env, PATH: pathWithout(w.scope.dir, 'openssl') }));
    expect(result.code).toBe(7);
    expect(readFileSync(out, 'utf8')).toContain(SERVICE_TEXT);
    expect(w.h.backend.reports(pod.podUid).map((r) => r.state)).toEqual(['started', 'exited']);
    expect(w.h.logger.lines.find((l) => l.message === 'agent bootstrapped')?.fields?.keySource).toBe(
      'endpoint',
    );
  });

  it('refuses to run a binary whose checksum is unset, even if an endpoint hands one out', async () => {
    const w = await world({ format: 'binary' });
    const pod = aLaunch({ command: ['true'] });
    const config: AgentConfig = buildAgentConfig({
      launch: pod,
      settings: w.h.deps.settings,
      address: '10.250.0.2',
      arch: 'amd64',
      privateKey: wgKeyPair().privateKey,
      privateKeySource: 'endpoint',
      statusCredential: 'c'.repeat(43),
    });
    const withTunnel = tunnelled(config);
    withTunnel.wireproxy.binary.sha256 = undefined;
    const reports: string[] = [];
    const port = await serveBundle(renderAgentBundle(withTunnel), reports);
    const result = await finished(
      runAgent({
        ANEX_AGENT_URL: `http://127.0.0.1:${port}`,
        ANEX_BOOTSTRAP_TOKEN: 't'.repeat(43),
        ANEX_POD_UID: pod.podUid,
        ANEX_AGENT_INSECURE: '1',
      }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /refusing to run wireproxy: no pinned SHA-256 for http:\/\/127\.0\.0\.1:\d+\/wireproxy/,
    );
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain('"state":"failed"');
  });
});

/** A PATH holding links to everything on the current PATH except `tool`. */
function pathWithout(dir: string, tool: string): string {
  const bin = join(dir, `bin-without-${tool}`);
  mkdirSync(bin);
  const seen = new Set<string>([tool]);
  for (const entry of (process.env.PATH ?? '').split(':')) {
    if (!entry || !existsSync(entry)) continue;
    for (const name of execFileSync('ls', [entry], { encoding: 'utf8' }).split('\n')) {
      if (!name || seen.has(name)) continue;
      seen.add(name);
      symlinkSync(join(entry, name), join(bin, name));
    }
  }
  return bin;
}

/** A stand-in endpoint answering bootstrap with a fixed bundle and recording status bodies. */
async function serveBundle(bundle: string, reports: string[]): Promise<number> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      if (req.url === '/v1/status') reports.push(body);
      res.writeHead(200, {
        'content-type': req.url === '/v1/bootstrap' ? 'text/x-anex-agent-bundle' : 'application/json',
      });
      res.end(req.url === '/v1/bootstrap' ? bundle : '{"recorded":true,"alive":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}
