import { RunPodProvider, type RunPodProviderOptions } from '../../../lib/providers/runpod/provider.ts';
import { VastAiProvider, type VastAiProviderOptions } from '../../../lib/providers/vastai/provider.ts';
import { RunPodSim, type RunPodSimOptions } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim, type VastAiSimOptions } from '../../../lib/sim/vastai/vastai-sim.ts';
import { CLUSTER, manualClock, recordingFetch, recordingSleep } from './builders.ts';
import { type ManagedSim, useSim } from './sim-lifecycle.ts';

/** What every provider under test gets: the simulator's URL, a test key, and recording fetch and sleep. */
interface RecordedOptions {
  baseUrl: string;
  apiKey: string;
  clusterId: string;
  fetch: typeof globalThis.fetch;
  sleep: ReturnType<typeof recordingSleep>['sleep'];
}

function useProviderSim<S extends ManagedSim, P, E>(
  sim: S,
  clock: ReturnType<typeof manualClock>,
  make: (recorded: RecordedOptions, extra: Partial<E>) => P,
) {
  const state = useSim(sim);
  /** A provider against the simulator that records requests and skips backoff waits. */
  const setup = (extra: Partial<E> = {}) => {
    const recorder = recordingFetch();
    const sleeper = recordingSleep();
    const recorded = {
      baseUrl: state.url,
      apiKey: 'test-key',
      clusterId: CLUSTER,
      fetch: recorder.fetch,
      sleep: sleeper.sleep,
    };
    return { provider: make(recorded, extra), requests: recorder.requests, delays: sleeper.delays };
  };
  return { sim, clock, setup, url: () => state.url };
}

export function useVastSim(options: VastAiSimOptions) {
  const clock = manualClock();
  const sim = new VastAiSim({ ...options, now: clock.now });
  return useProviderSim(
    sim,
    clock,
    (recorded, extra: Partial<VastAiProviderOptions>) =>
      new VastAiProvider({ ...recorded, searchLimit: 5000, ...extra }),
  );
}

export function useRunPodSim(options: RunPodSimOptions) {
  const clock = manualClock();
  const sim = new RunPodSim({ ...options, now: clock.now });
  return useProviderSim(
    sim,
    clock,
    (recorded, extra: Partial<RunPodProviderOptions>) => new RunPodProvider({ ...recorded, ...extra }),
  );
}
