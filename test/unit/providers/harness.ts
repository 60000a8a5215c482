import { RunPodProvider, type RunPodProviderOptions } from '../../../lib/providers/runpod/provider.ts';
import { VastAiProvider, type VastAiProviderOptions } from '../../../lib/providers/vastai/provider.ts';
import { RunPodSim, type RunPodSimOptions } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim, type VastAiSimOptions } from '../../../lib/sim/vastai/vastai-sim.ts';
import { CLUSTER, manualClock, recordingFetch, recordingSleep } from './builders.ts';
import { useSim } from './sim-lifecycle.ts';

export function useVastSim(options: VastAiSimOptions) {
  const clock = manualClock();
  const sim = new VastAiSim({ ...options, now: clock.now });
  const state = useSim(sim);
  /** A provider against the simulator that records requests and skips backoff waits. */
  const setup = (extra: Partial<VastAiProviderOptions> = {}) => {
    const recorder = recordingFetch();
    const sleeper = recordingSleep();
    const provider = new VastAiProvider({
      baseUrl: state.url,
      apiKey: 'test-key',
      clusterId: CLUSTER,
      fetch: recorder.fetch,
      sleep: sleeper.sleep,
      searchLimit: 5000,
      ...extra,
    });
    return { provider, requests: recorder.requests, delays: sleeper.delays };
  };
  return { sim, clock, setup, url: () => state.url };
}

export function useRunPodSim(options: RunPodSimOptions) {
  const clock = manualClock();
  const sim = new RunPodSim({ ...options, now: clock.now });
  const state = useSim(sim);
  const setup = (extra: Partial<RunPodProviderOptions> = {}) => {
    const recorder = recordingFetch();
    const sleeper = recordingSleep();
    const provider = new RunPodProvider({
      baseUrl: state.url,
      apiKey: 'test-key',
      clusterId: CLUSTER,
      fetch: recorder.fetch,
      sleep: sleeper.sleep,
      ...extra,
    });
    return { provider, requests: recorder.requests, delays: sleeper.delays };
  };
  return { sim, clock, setup, url: () => state.url };
}
