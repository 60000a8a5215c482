import type { ProviderName } from '../offers/offer.ts';
import type { SimInstanceSummary } from '../sim/common/sim-core.ts';
import { MachineRunner } from '../sim/machines/runner.ts';
import { startSimRegistry } from '../sim/registry/sim-registry.ts';
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
   * Where the simulated machines say what they do (started, exited, stopped); never a secret.
   * @default nothing is said
   */
  onMachineEvent?: (message: string) => void;
}

export interface SimulatedMarket {
  /** the simulators' endpoints, as the providers are configured against them */
  endpoints: Record<ProviderName, ProviderEndpoint & { baseUrl: string }>;
  /** instances not destroyed, per provider (the leak check) */
  liveInstances(): Record<ProviderName, SimInstanceSummary[]>;
  /** the containers running as processes on this host (lib/sim/machines) */
  runner: MachineRunner;
  /** the marketplace's registry (lib/sim/registry): every image it can run, as a registry mirror */
  registryUrl: string;
  stop(): Promise<void>;
}

/** The simulators accept any non-empty key; this one says what it is in their logs. */
export const SIMULATOR_API_KEY = 'anex-simulator';

/**
 * Both marketplace simulators (lib/sim) in this process, for `anex run --simulate`,
 * `anex demo` and `anex sim`. Boot times are slowed to human scale so that Provisioning is
 * visible before Running. Each one serves its admin API under /__sim/ (GET /__sim/instances).
 * Every container a simulator starts really runs on this host (lib/sim/machines): the launch
 * stub downloads the real agent from the agent endpoint, which bootstraps and runs the pod's
 * command — so Running means what it means on a real provider.
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
  const registry = await startSimRegistry();
  try {
    await vastai.start();
  } catch (error) {
    await registry.stop();
    throw error;
  }
  try {
    await runpod.start();
  } catch (error) {
    await Promise.all([vastai.stop(), registry.stop()]);
    throw error;
  }
  // Clients of `anex sim` find the registry through either simulator (`anex demo` does).
  vastai.setInfo({ registry: registry.url });
  runpod.setInfo({ registry: registry.url });
  const runner = new MachineRunner({
    hosts: { vastai, runpod },
    ...(options.onMachineEvent === undefined ? {} : { onEvent: options.onMachineEvent }),
  });
  runner.start();
  return {
    endpoints: {
      vastai: { apiKey: SIMULATOR_API_KEY, baseUrl: vastai.url },
      runpod: { apiKey: SIMULATOR_API_KEY, baseUrl: runpod.url },
    },
    liveInstances: () => ({ vastai: vastai.liveInstances(), runpod: runpod.liveInstances() }),
    runner,
    registryUrl: registry.url,
    async stop() {
      await runner.stop();
      await Promise.all([vastai.stop(), runpod.stop(), registry.stop()]);
    },
  };
}
