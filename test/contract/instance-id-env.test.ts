import { describe, expect, it } from 'vitest';
import type { Offer } from '../../lib/offers/offer.ts';
import type { Provider } from '../../lib/providers/provider.ts';
import { RunPodProvider } from '../../lib/providers/runpod/provider.ts';
import { VastAiProvider } from '../../lib/providers/vastai/provider.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../lib/sim/vastai/vastai-sim.ts';
import { aLaunch, aRequirements, aTag, manualClock } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * The variable each provider sets in every container to the instance's own id, which the agent
 * sends with its bootstrap token (ADR 0021), so a token works on its own instance only:
 * - Vast: `CONTAINER_ID` (docs.vast.ai guides/instances/docker-environment; the vast audit
 *   2026-12: "Vast also sets CONTAINER_ID in every container"), the instance (contract) id
 *   that create answers as `new_contract`.
 * - RunPod: `RUNPOD_POD_ID` (docs.runpod.io pods/templates/environment-variables: the pod's
 *   unique id), the `id` that POST /v2/pods answers.
 * The simulated machines set them the same way; the adapters say which variable carries it.
 */

const clock = manualClock();
const vastSim = new VastAiSim({
  seed: 41,
  offers: 20,
  now: clock.now,
  timings: { provisionMs: 5, loadingMs: 20 },
  paceLimits: false,
});
const runpodSim = new RunPodSim({
  seed: 41,
  now: clock.now,
  timings: { provisionMs: 5, startingMs: 5, portsMs: 5 },
  paceLimits: false,
});
const vastState = useSim(vastSim);
const runpodState = useSim(runpodSim);

const cases = [
  {
    name: 'vastai',
    variable: 'CONTAINER_ID',
    sim: vastSim,
    provider: (): Provider =>
      new VastAiProvider({ baseUrl: vastState.url, apiKey: 'contract-test', sleep: async () => {} }),
  },
  {
    name: 'runpod',
    variable: 'RUNPOD_POD_ID',
    sim: runpodSim,
    provider: (): Provider =>
      new RunPodProvider({ baseUrl: runpodState.url, apiKey: 'contract-test', sleep: async () => {} }),
  },
] as const;

describe('the instance id in the container (ADR 0021)', () => {
  it.each(cases)('$name sets $variable to the id create answered, and its adapter names it', async (c) => {
    const provider = c.provider();
    expect(provider.instanceIdEnv).toBe(c.variable);
    const [offer] = await provider.listOffers(aRequirements(c.name), {});
    const result = await provider.create(offer as Offer, aLaunch({ env: { OWN: '1' } }), aTag(), {});
    if (result.outcome !== 'created') throw new Error(`expected created, got ${result.outcome}`);
    const id = result.instance.id;
    clock.advance(60_000);
    const running = c.sim.runningInstances().find((i) => i.id === id);
    // The provider's own variable, next to the launch's env; nothing else is invented.
    expect(running?.env).toEqual({ ...running?.env, OWN: '1', [c.variable]: id });
    expect(
      Object.keys(running?.env ?? {}).filter((k) => k === 'CONTAINER_ID' || k === 'RUNPOD_POD_ID'),
    ).toEqual([c.variable]);
    // What the simulated machine runs (lib/sim/machines takes the start from containerOf).
    const start = c.sim.containerOf(id);
    expect(start?.ok === true ? start.launch.env[c.variable] : undefined).toBe(id);
    await provider.destroy(id, {});
  });
});
