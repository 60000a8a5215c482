import { describe, expect, it } from 'vitest';
import type { Offer } from '../../lib/offers/offer.ts';
import { VastAiProvider } from '../../lib/providers/vastai/provider.ts';
import { VastAiSim } from '../../lib/sim/vastai/vastai-sim.ts';
import { aLaunch, aRequirements, aTag, manualClock } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * What Vast's instance states and create answers mean, each with its source: the simulator
 * answers as Vast does, and the adapter reads it without mistaking a name or a normal end for
 * a failure.
 */

const clock = manualClock();
const sim = new VastAiSim({
  seed: 31,
  offers: 60,
  now: clock.now,
  timings: { provisionMs: 5, loadingMs: 20 },
  // The tests read the simulator's rows straight after the adapter's requests, as Vast's own
  // rows; Vast's rate limits have their file (vast-rate-limits.test.ts).
  paceLimits: false,
});
const state = useSim(sim);
const KEY = { authorization: 'Bearer contract-test' };
/** An image whose name holds an error-looking word (vast audit #16). */
const IMAGE = 'org/failed-jobs';

function provider(fetch?: typeof globalThis.fetch): VastAiProvider {
  return new VastAiProvider({
    baseUrl: state.url,
    apiKey: 'contract-test',
    sleep: async () => {},
    ...(fetch === undefined ? {} : { fetch }),
  });
}

async function rent(vast: VastAiProvider, image = IMAGE): Promise<string> {
  const [offer] = await vast.listOffers(aRequirements('vastai'), {});
  const result = await vast.create(
    offer as Offer,
    aLaunch({ image, command: ['python', 'run.py'] }),
    aTag(),
    {},
  );
  if (result.outcome !== 'created') throw new Error(`expected created, got ${result.outcome}`);
  return result.instance.id;
}

/** The simulator's own instance row (what Vast's show answers). */
async function shown(id: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${state.url}/api/v0/instances/${id}/`, { headers: KEY });
  return ((await response.json()) as { instances: Record<string, unknown> }).instances;
}

describe('Vast status_msg embeds the image name (vast audit #16)', () => {
  // show_instances.yaml example: "success, running nvidia/cuda_…/ssh"; vast-cli wait_for_instance
  // only checks `'Error' in status_msg`.
  it(`reads "success, running ${IMAGE}/args" as running, and "Pulling image ${IMAGE}" as starting`, async () => {
    const vast = provider();
    const id = await rent(vast);
    clock.advance(10);
    expect(await shown(id)).toMatchObject({ actual_status: 'loading', status_msg: `Pulling image ${IMAGE}` });
    expect((await vast.get(id, {})).state.phase).toBe('starting');
    clock.advance(30);
    expect(await shown(id)).toMatchObject({
      actual_status: 'running',
      status_msg: `success, running ${IMAGE}/args`,
    });
    expect((await vast.get(id, {})).state).toEqual({ phase: 'running' });
    await vast.destroy(id, {});
  });

  it(`still reads a pull failure of ${IMAGE} as the image's fault`, async () => {
    const vast = provider();
    sim.setImagePlan(IMAGE, 'image-pull-error');
    const id = await rent(vast);
    clock.advance(60);
    expect((await vast.get(id, {})).state).toMatchObject({ phase: 'failed', fault: 'image' });
    await vast.destroy(id, {});
  });
});

describe('Vast `exited` is the container ending, also after a normal finish (vast audit #7)', () => {
  // vast-cli SKILL.md: "`exited`: Container process exited unexpectedly" — in args runtype the
  // container's main process is the agent, so a finished workload ends there too. Whether Vast
  // shows `stopped` for a clean exit is unconfirmed: the simulator takes the stricter reading.
  it.each([0, 3])('a container that ended with %i reads exited, not a host failure', async (code) => {
    const vast = provider();
    const id = await rent(vast);
    clock.advance(60);
    expect((await vast.get(id, {})).state.phase).toBe('running');
    sim.containerExited(id, code);
    expect(await shown(id)).toMatchObject({ actual_status: 'exited' });
    expect((await vast.get(id, {})).state).toEqual({ phase: 'exited' });
    await vast.destroy(id, {});
  });
});

describe('Vast `offline`: a host lost under a running instance (issue #13, a lost machine)', () => {
  // vast-cli SKILL.md lists `offline` as the state of an instance whose host is down; the
  // `offline` boot plan reaches it at boot, loseHost while running. The adapter reads it as a
  // host fault (vastai-classify.test.ts), so the pod's machine is replaced and banned.
  it('a running instance whose host is lost reads offline, a host fault', async () => {
    const vast = provider();
    const id = await rent(vast);
    clock.advance(60);
    expect((await vast.get(id, {})).state.phase).toBe('running');
    sim.loseHost(id);
    expect(await shown(id)).toMatchObject({ actual_status: 'offline' });
    expect(sim.runningInstances().map((i) => i.id)).not.toContain(id);
    expect((await vast.get(id, {})).state).toMatchObject({ phase: 'failed', fault: 'host' });
    await vast.destroy(id, {});
  });
});

describe('Vast create answer with null error fields (vast audit #17)', () => {
  // The documented success body is {"success":true,"new_contract":…,"instance_api_key":…}; nulls
  // in it are unconfirmed. They must not throw the new_contract away (an unknown outcome).
  it('returns the instance of a 200 body carrying "error": null and "msg": null', async () => {
    const withNulls: typeof globalThis.fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method !== 'PUT') return response;
      const body = { ...((await response.json()) as object), error: null, msg: null };
      return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
    };
    const vast = provider(withNulls);
    const id = await rent(vast, 'ghcr.io/acme/job:1.2');
    expect(sim.liveInstances().map((i) => i.id)).toEqual([id]);
    await vast.destroy(id, {});
  });
});

describe('Vast instance dph_total is the rate billed (issue #12 "the price actually billed")', () => {
  // providers.md §2 field table: `dph_total` "the billed rate; compare with price-max after
  // renting". A host can bill above the ask it was rented from; the simulator does on request.
  it('shows the repriced rate on the instance, and the adapter reads it as the price per hour', async () => {
    const vast = provider();
    const [offer] = await vast.listOffers(aRequirements('vastai'), {});
    if (offer?.machineId === undefined) throw new Error('no offer');
    sim.billAbove(Number(offer.machineId), 0.75);
    const result = await vast.create(offer, aLaunch({ image: 'ghcr.io/acme/job:1.2' }), aTag(), {});
    if (result.outcome !== 'created') throw new Error(`expected created, got ${result.outcome}`);
    const row = await shown(result.instance.id);
    expect(row.dph_total as number).toBeGreaterThanOrEqual(offer.pricePerHour + 0.75 - 0.001);
    expect((await vast.get(result.instance.id, {})).pricePerHour).toBe(row.dph_total);
    await vast.destroy(result.instance.id, {});
    sim.billAbove(Number(offer.machineId), 0);
  });
});
