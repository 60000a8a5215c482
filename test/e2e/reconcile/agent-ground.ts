import type { Cluster } from '../../../lib/kube/cluster.ts';
import { ReconcilerAgentBackend } from '../../../lib/reconcile/agent-backend.ts';
import { agentLaunch } from '../../../lib/reconcile/agent-launch.ts';
import type { LaunchBuilder } from '../../../lib/reconcile/launch.ts';
import { AgentPlayer } from '../../../lib/sim/common/agent-player.ts';
import type { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import type { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import type { Store } from '../../../lib/state/store.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { tokenBucketLimiter } from '../../../lib/tunnel/endpoint/rate-limit.ts';
import { serveAgentEndpoint } from '../../../lib/tunnel/endpoint/server.ts';
import { freePort } from '../../support/ports.ts';
import { tunnelSettings } from '../../support/tunnel.ts';

/** The agent side of the ground: the real endpoint, the launch through it, and the simulated machines' agents. */
export interface GroundAgents {
  launch: LaunchBuilder;
  /** the agents of simulated instances now running do what agent.sh does: bootstrap, then report 'started' */
  play(): Promise<void>;
  /** what the agents said (failures included), for a test's failure message */
  said: string[];
  stop(): Promise<void>;
}

export const GROUND_VPN_RANGE = '10.98.0.0/24';

/**
 * The agent endpoint (lib/tunnel/endpoint with the ReconcilerAgentBackend, as the `agent`
 * function and `anex run` serve it) on loopback over the ground's Store and Cluster, and the
 * launch that hands each rented machine its URL and one-time token. The simulators run no
 * containers: lib/sim's AgentPlayer plays each running instance's agent over HTTP, so a pod
 * is Running only once an agent bootstrapped with its token and reported the start.
 */
export async function startAgents(options: {
  store: Store;
  cluster: Cluster;
  sim: VastAiSim | RunPodSim;
  clock: () => number;
}): Promise<GroundAgents> {
  const { store, cluster, sim, clock } = options;
  const range = parseVpnRange(GROUND_VPN_RANGE);
  const server = await serveAgentEndpoint({
    host: '127.0.0.1',
    port: await freePort(),
    deps: {
      store,
      backend: new ReconcilerAgentBackend({
        store,
        cluster,
        transport: { vastai: 'udp', runpod: 'wstunnel' },
        clock,
      }),
      settings: tunnelSettings({ vpnRange: range }),
      logger: { info: () => {}, warn: () => {} },
      now: clock,
      rateLimiter: tokenBucketLimiter(),
    },
  });
  const said: string[] = [];
  const player = new AgentPlayer({ onEvent: (message) => said.push(message) });
  return {
    launch: agentLaunch({ store, range, endpointUrl: server.url, insecure: true, now: clock }),
    play: () => player.play(sim.runningInstances()),
    said,
    stop: () => server.close(),
  };
}
