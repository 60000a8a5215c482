import { describe, expect, it } from 'vitest';
import { isAnexError } from '../../lib/errors.ts';
import type { Offer } from '../../lib/offers/offer.ts';
import { RunPodProvider } from '../../lib/providers/runpod/provider.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { aLaunch, aRequirements, aTag } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * RunPod v2 `POST /v2/pods` errors as the docs and live recordings give them (runpod audit #5,
 * #6): 400 "breaks a cross-field rule, or this GPU and data center combination could not be
 * placed → Try your next candidate"; a second capacity wording ("No compatible CUDA host…",
 * modelled on v2 too: the stricter reading); 422 "Unknown GPU type: …" (3P live recording, id
 * 70101339221); 403 `ForbiddenError` "does not grant access to the requested resource or
 * action" for a key without the scope. The adapter turns each into what the reconciler needs.
 */

const sim = new RunPodSim({ seed: 5 });
const state = useSim(sim);

async function create(gpu: Record<string, unknown>, key = 'errors-test') {
  const response = await fetch(`${state.url}/v2/pods`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'e',
      image: 'ghcr.io/example/trainer:1',
      gpu: { count: 1, ...gpu },
      cloud: 'SECURE',
    }),
  });
  return { status: response.status, body: (await response.json()) as { detail?: string; title?: string } };
}

describe('the RunPod simulator answers create errors as RunPod does', () => {
  it('422 for a GPU id RunPod does not know (live: "Unknown GPU type: …")', async () => {
    expect(await create({ id: 'NVIDIA Imaginary 9000' })).toMatchObject({
      status: 422,
      body: { detail: 'Unknown GPU type: NVIDIA Imaginary 9000' },
    });
  });

  it('400 with the second capacity wording when no host has an accepted CUDA', async () => {
    const answer = await create({ id: 'NVIDIA GeForce RTX 4090', allowedCudaVersions: ['9.0'] });
    expect(answer.status).toBe(400);
    expect(answer.body.detail).toMatch(/^No compatible CUDA host/);
  });

  it('403 ForbiddenError for a read-only key, whatever the pool', async () => {
    sim.setReadOnlyKey('read-only');
    expect(await create({ id: 'NVIDIA GeForce RTX 4090' }, 'read-only')).toMatchObject({
      status: 403,
      body: {
        detail:
          'The bearer token is valid, but it does not grant access to the requested resource or action.',
      },
    });
  });
});

describe('the adapter reads them', () => {
  const provider = (apiKey = 'k') => new RunPodProvider({ baseUrl: state.url, apiKey });
  const firstOffer = async (): Promise<Offer> => {
    const [offer] = await provider().listOffers(aRequirements('runpod', { gpuNames: ['RTX 4090'] }), {});
    if (offer === undefined) throw new Error('no RTX 4090 offer');
    return offer;
  };

  it('a placement 400 is `refused` with the detail: the next candidate is tried', async () => {
    const offer = await firstOffer();
    const [gpuTypeId, , dataCenterId] = offer.offerId.split('|') as [string, string, string];
    sim.refusePlacement(gpuTypeId, dataCenterId, 'disk must be at least 20 GB on this host');
    expect(await provider().create(offer, aLaunch(), aTag(), {})).toEqual({
      outcome: 'refused',
      reason: 'disk must be at least 20 GB on this host',
    });
  });

  it('a scope 403 is `auth` (it stops creates), a pool 403 skips the candidate', async () => {
    const offer = await firstOffer();
    sim.reset();
    sim.setReadOnlyKey('scoped');
    const scoped = await provider('scoped')
      .create(offer, aLaunch(), aTag(), {})
      .catch((e: unknown) => e);
    expect(isAnexError(scoped) && scoped.kind).toBe('auth');
    sim.setPoolForbidden(offer.gpuTypeId ?? 'NVIDIA GeForce RTX 4090');
    expect(await provider().create(offer, aLaunch(), aTag(), {})).toMatchObject({ outcome: 'capacity' });
  });
});

describe('the rate RunPod bills (issue #12 "the price actually billed")', () => {
  // v2 `GpuType.price`: "the rate actually billed … is `cost` on the pod". A host can bill above
  // the list price; the simulator does on request and the adapter reads `cost` as the billed rate.
  it('reads the pod cost, above the list price when the host bills more', async () => {
    sim.reset();
    const provider = new RunPodProvider({ baseUrl: state.url, apiKey: 'billing' });
    const [offer] = await provider.listOffers(aRequirements('runpod', { gpuNames: ['RTX 4090'] }), {});
    if (offer === undefined) throw new Error('no RTX 4090 offer');
    sim.billAbove(offer.gpuTypeId ?? 'NVIDIA GeForce RTX 4090', 0.5);
    const result = await provider.create(offer, aLaunch(), aTag(), {});
    if (result.outcome !== 'created') throw new Error(`expected created, got ${result.outcome}`);
    const seen = await provider.get(result.instance.id, {});
    expect(seen.pricePerHour).toBeCloseTo(offer.pricePerHour + 0.5, 3);
    await provider.destroy(result.instance.id, {});
  });
});
