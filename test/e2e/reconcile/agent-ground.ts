import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PodEventMessage } from '../../../lib/admission/pod-event.ts';
import type { RegistryClient } from '../../../lib/images/client.ts';
import { resolveCommand } from '../../../lib/images/gate.ts';
import { pullCredentials } from '../../../lib/images/pull-secrets.ts';
import type { Cluster } from '../../../lib/kube/cluster.ts';
import { ReconcilerAgentBackend } from '../../../lib/reconcile/agent-backend.ts';
import { agentLaunch } from '../../../lib/reconcile/agent-launch.ts';
import type { LaunchBuilder } from '../../../lib/reconcile/launch.ts';
import { MachineRunner } from '../../../lib/sim/machines/runner.ts';
import type { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import type { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import type { Store } from '../../../lib/state/store.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { binaryPath } from '../../../lib/tunnel/endpoint/binaries.ts';
import { tokenBucketLimiter } from '../../../lib/tunnel/endpoint/rate-limit.ts';
import { serveAgentEndpoint } from '../../../lib/tunnel/endpoint/server.ts';
import type { AgentBackend, StatusReport } from '../../../lib/tunnel/endpoint/types.ts';
import { builtAgentArtifact, builtFiles, parseBuildManifest } from '../../../lib/tunnel/self-built.ts';
import { agentBuildDir } from '../../support/agent-build.ts';
import { freePort } from '../../support/ports.ts';
import { tunnelSettings } from '../../support/tunnel.ts';

/** The agent side of the ground: the real endpoint, the launch through it, and the machines that run it. */
export interface GroundAgents {
  launch: LaunchBuilder;
  /** starts (and stops) the containers the simulator says are running, as real processes */
  play(): Promise<void>;
  /** what the machines said (started, exited, stopped), for a test's failure message */
  said: string[];
  /** the per-pod passes agent reports asked for (the pod-events queue of the stack) */
  asked: PodEventMessage[];
  /** every status report the endpoint accepted, in order (repeats included) */
  reports: ReportSeen[];
  /** what the agent endpoint logged (message and fields, JSON), for secret scans */
  logged: string[];
  runner: MachineRunner;
  stop(): Promise<void>;
}

export const GROUND_VPN_RANGE = '10.98.0.0/24';

/** The ground's restart back-off, in seconds (kubelet's is 10 / 300 / 600). */
export const GROUND_BACKOFF = { initialSeconds: 1, maxSeconds: 4, resetSeconds: 60 } as const;

/** The backend, keeping every status report it is given, in order. */
function recording(into: ReportSeen[], backend: ReconcilerAgentBackend): AgentBackend {
  return {
    getLaunch: (podUid) => backend.getLaunch(podUid),
    attempt: (podUid) => backend.attempt(podUid),
    saveStatusCredential: (podUid, hash, tokenHash) => backend.saveStatusCredential(podUid, hash, tokenHash),
    getStatusCredentialHash: (podUid) => backend.getStatusCredentialHash(podUid),
    liveness: (podUid) => backend.liveness(podUid),
    recordStatus: async (podUid, report, options) => {
      into.push({ podUid, report, at: options.now });
      await backend.recordStatus(podUid, report, options);
    },
  };
}

export interface ReportSeen {
  podUid: string;
  report: StatusReport;
  at: number;
}

/**
 * The agent endpoint (lib/tunnel/endpoint with the ReconcilerAgentBackend, as the `agent`
 * function and `anex run` serve it) on loopback over the ground's Store and Cluster, serving
 * the self-built agent binary; the launch that hands each rented machine the stub, the URL and
 * a one-time token; and the simulated machines (lib/sim/machines), which run what the
 * provider's runtime would run. A pod is Running only once the real stub fetched the real
 * agent, which bootstrapped with its token and reported the start. No gateway here: the
 * agent runs pods without a tunnel (the tunnel has its own suites, test/integration/tunnel).
 */
export async function startAgents(options: {
  store: Store;
  cluster: Cluster;
  sim: VastAiSim | RunPodSim;
  provider: 'vastai' | 'runpod';
  clock: () => number;
  /** the registry the agent's effective command is read from (Kubernetes rules over the image) */
  images: RegistryClient;
}): Promise<GroundAgents> {
  const { store, cluster, sim, clock } = options;
  const range = parseVpnRange(GROUND_VPN_RANGE);
  const asked: PodEventMessage[] = [];
  const reports: ReportSeen[] = [];
  const logged: string[] = [];
  const log = (message: string, fields?: unknown) => void logged.push(JSON.stringify({ message, fields }));
  const dir = agentBuildDir();
  const manifest = parseBuildManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'), 'manifest.json');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await serveAgentEndpoint({
    host: '127.0.0.1',
    port,
    binaries: builtFiles(dir, manifest),
    deps: {
      store,
      backend: recording(
        reports,
        new ReconcilerAgentBackend({
          store,
          cluster,
          transport: { vastai: 'none', runpod: 'none' },
          clock,
          command: async (container, pod) => {
            // A private image is read with the pod's pull logins, as before renting.
            const { auths } = await pullCredentials(cluster, pod);
            const resolved = await resolveCommand(options.images, container, { arch: 'amd64', auths });
            return resolved.outcome === 'ok' ? { argv: resolved.argv } : undefined;
          },
          passes: { send: async (message) => void asked.push(message) },
        }),
      ),
      // Test-ground timings (issue #13): the agent asks pod-alive every second and restarts a
      // container after 1 s doubling to 4 s (kubelet: 10 s to 5 min), so a test sees several
      // restarts and a deletion's SIGTERM within seconds.
      settings: tunnelSettings({
        vpnRange: range,
        aliveIntervalSeconds: 1,
        restartBackoff: GROUND_BACKOFF,
      }),
      logger: { info: log, warn: log },
      now: clock,
      rateLimiter: tokenBucketLimiter(),
      agentDownload: async (arch) => `${url}${binaryPath('agent', arch)}`,
    },
  });
  const said: string[] = [];
  const runner = new MachineRunner({
    hosts: { [options.provider]: sim },
    onEvent: (message) => said.push(message),
    restartDelayMs: 200,
  });
  return {
    launch: agentLaunch({
      store,
      range,
      endpointUrl: server.url,
      insecure: true,
      now: clock,
      agent: builtAgentArtifact(manifest),
    }),
    async play() {
      const before = runner.machines().size;
      await runner.sync();
      // A machine just started: give its stub and agent a moment to bootstrap and report.
      if (runner.machines().size > before) await new Promise((resolve) => setTimeout(resolve, 400));
    },
    said,
    logged,
    asked,
    reports,
    runner,
    async stop() {
      await runner.stop();
      await server.close();
    },
  };
}
