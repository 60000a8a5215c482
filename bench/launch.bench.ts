import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findSimImage } from '../lib/sim/common/images.ts';
import { Machine } from '../lib/sim/machines/machine.ts';
import { MemoryStore } from '../lib/state/memory-store.ts';
import { parseVpnRange } from '../lib/tunnel/addresses.ts';
import { AGENT_ENV } from '../lib/tunnel/agent/env.ts';
import { agentCommand } from '../lib/tunnel/agent/stub.ts';
import { binaryPath } from '../lib/tunnel/endpoint/binaries.ts';
import { MemoryAgentBackend } from '../lib/tunnel/endpoint/memory-backend.ts';
import { tokenBucketLimiter } from '../lib/tunnel/endpoint/rate-limit.ts';
import { serveAgentEndpoint } from '../lib/tunnel/endpoint/server.ts';
import { wgKeyPair } from '../lib/tunnel/keys.ts';
import { buildSelfBuiltBinaries, builtAgentArtifact, builtFiles } from '../lib/tunnel/self-built.ts';
import { issueBootstrapToken } from '../lib/tunnel/tokens.ts';
import { type Benchmark, median, round } from './harness.ts';

/**
 * The launch on a simulated machine (issue #11): from the runtime starting the provider's exec
 * form (`/bin/sh -c <stub>`) to the agent's `started` report at the endpoint — the stub's
 * download of the agent binary (≈ 6.7 MB over loopback), its SHA-256 check, the exec, the
 * bootstrap and the workload's start. p50 of RUNS launches; loopback, so what a real machine
 * adds is its network to the endpoint.
 */
const RUNS = 9;

async function launchToStarted(): Promise<number[]> {
  const { dir, manifest } = buildSelfBuiltBinaries();
  const store = new MemoryStore();
  const backend = new MemoryAgentBackend();
  let url = '';
  const server = await serveAgentEndpoint({
    port: 0,
    binaries: builtFiles(dir, manifest),
    deps: {
      store,
      backend,
      settings: {
        vpnRange: parseVpnRange('10.250.0.0/24'),
        gatewayPublicKey: wgKeyPair().publicKey,
        udpEndpoint: '',
        clusterCidrs: [],
        binaries: { wireproxy: pin('wireproxy'), wstunnel: pin('wstunnel') },
      },
      logger: { info: () => {}, warn: () => {} },
      now: Date.now,
      rateLimiter: tokenBucketLimiter(),
      agentDownload: async (arch) => `${url}${binaryPath('agent', arch)}`,
    },
  });
  url = server.url;
  const image = findSimImage('ghcr.io/example/trainer:1');
  if (image === undefined) throw new Error('no trainer image in the simulator table');
  const work = mkdtempSync(join(tmpdir(), 'anex-bench-launch-'));
  const samples: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const podUid = randomUUID();
      backend.addPod({
        podUid,
        transport: 'none',
        command: ['python', 'train.py'],
        args: [],
        env: {},
        restartPolicy: 'Never',
      });
      const { token } = await issueBootstrapToken(store, { podUid, now: Date.now() });
      const started = Date.now();
      const machine = new Machine({
        id: `bench-${i}`,
        image,
        dir: join(work, String(i)),
        launch: {
          argv: agentCommand(builtAgentArtifact(manifest)),
          env: {
            PATH: '/usr/bin:/bin',
            [AGENT_ENV.url]: url,
            [AGENT_ENV.token]: token,
            [AGENT_ENV.podUid]: podUid,
            [AGENT_ENV.insecure]: '1',
          },
          workingDir: '/app',
        },
      });
      try {
        while (!backend.reports(podUid).some((r) => r.state === 'started')) {
          if (Date.now() - started > 30_000)
            throw new Error(`no 'started' report in 30 s; machine said: ${machine.log()}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        samples.push(Date.now() - started);
      } finally {
        await machine.stop(500);
      }
    }
  } finally {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
  return samples;
}

/** Unverified pins: a transport-none launch downloads no helper. */
function pin(name: 'wireproxy' | 'wstunnel') {
  const asset = { url: 'https://example.invalid/unused', sha256: undefined, format: 'binary' as const };
  return { name, version: 'unused', source: 'not downloaded', assets: { amd64: asset, arm64: asset } };
}

export const benchmarks: Benchmark[] = [
  {
    name: 'launch: stub → agent started (simulated machine, loopback)',
    async run() {
      const samples = await launchToStarted();
      return { name: this.name, unit: 'ms', median: round(median(samples)) };
    },
  },
];
