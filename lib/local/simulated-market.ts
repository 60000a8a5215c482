import type { ProviderName } from '../offers/offer.ts';
import { AgentPlayer } from '../sim/common/agent-player.ts';
import type { SimInstanceSummary } from '../sim/common/sim-core.ts';
import { RunPodSim } from '../sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../sim/vastai/vastai-sim.ts';
import type { ProviderEndpoint } from './provider-env.ts';

export interface SimulatedMarketOptions {
  /** market seed @default 1 */
  seed?: number;
  /** how long a simulated machine takes from rented to running @default 6_000 */
  bootMs?: number;
  /** ports @default 0 (free ports) */
  ports?: Partial<Record<ProviderName, number>>;
  /** offers in the Vast.AI market (RunPod's catalog is per GPU type and has no size) @default 500 */
  vastaiOffers?: number;
  /**
   * Where the simulated agents say what they do (bootstrap, started, failures); never a secret.
   * @default nothing is said
   */
  onAgentEvent?: (message: string) => void;
}

/** How often the simulated machines' agents look for work: about the real agent's start-up pace. */
const AGENT_POLL_MS = 500;

export interface SimulatedMarket {
  /** the simulators' endpoints, as the providers are configured against them */
  endpoints: Record<ProviderName, ProviderEndpoint & { baseUrl: string }>;
  /** instances not destroyed, per provider (the leak check) */
  liveInstances(): Record<ProviderName, SimInstanceSummary[]>;
  stop(): Promise<void>;
}

/** The simulators accept any non-empty key; this one says what it is in their logs. */
export const SIMULATOR_API_KEY = 'anex-simulator';

/**
 * Both marketplace simulators (lib/sim) in this process, for `anex run --simulate`,
 * `anex demo` and `anex sim`. Boot times are slowed to human scale so that Provisioning is
 * visible before Running. Each one serves its admin API under /__sim/ (GET /__sim/instances).
 * A simulated machine launched through the anex agent plays that agent's HTTP protocol
 * against the real agent endpoint (lib/sim/common/agent-player.ts), so Running still means
 * "the agent reported the container started".
 */
export async function startSimulatedMarket(options: SimulatedMarketOptions = {}): Promise<SimulatedMarket> {
  const seed = options.seed ?? 1;
  const boot = options.bootMs ?? 6_000;
  const vastai = new VastAiSim({
    seed,
    port: options.ports?.vastai ?? 0,
    ...(options.vastaiOffers === undefined ? {} : { offers: options.vastaiOffers }),
    timings: { provisionMs: Math.round(boot / 2), loadingMs: Math.round(boot / 2) },
  });
  const runpod = new RunPodSim({
    seed,
    port: options.ports?.runpod ?? 0,
    timings: {
      provisionMs: Math.round(boot / 3),
      startingMs: Math.round(boot / 3),
      portsMs: Math.round(boot / 3),
    },
  });
  await vastai.start();
  try {
    await runpod.start();
  } catch (error) {
    await vastai.stop();
    throw error;
  }
  const agents = playAgents(
    [vastai, runpod],
    new AgentPlayer({ onEvent: options.onAgentEvent ?? (() => {}) }),
  );
  return {
    endpoints: {
      vastai: { apiKey: SIMULATOR_API_KEY, baseUrl: vastai.url },
      runpod: { apiKey: SIMULATOR_API_KEY, baseUrl: runpod.url },
    },
    liveInstances: () => ({ vastai: vastai.liveInstances(), runpod: runpod.liveInstances() }),
    async stop() {
      await agents.stop();
      await Promise.all([vastai.stop(), runpod.stop()]);
    },
  };
}

/** Runs the player over both simulators every {@link AGENT_POLL_MS}, one round at a time. */
function playAgents(
  sims: readonly (VastAiSim | RunPodSim)[],
  player: AgentPlayer,
): { stop(): Promise<void> } {
  let stopped = false;
  let round: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    round = round
      .then(async () => {
        if (!stopped) await player.play(sims.flatMap((sim) => sim.runningInstances()));
      })
      // play() reports per-instance failures itself; this keeps one broken round from ending the loop
      .catch(() => {});
  }, AGENT_POLL_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await round;
    },
  };
}
