import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Offer } from '../../lib/offers/offer.ts';
import { VastAiProvider } from '../../lib/providers/vastai/provider.ts';
import { VastAiSim } from '../../lib/sim/vastai/vastai-sim.ts';
import { aLaunch, aRequirements, aTag } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * Vast's rate limits as the docs state them (vast-ai/docs `api-reference/rate-limits-and-errors.mdx`:
 * "enforced as a minimum interval between requests for a given endpoint and identity … does
 * not set … Retry-After"; the `x-rate-limit` blocks of `api-reference/openapi/yaml/*.yaml`:
 * create threshold 4.5 + penalty 12, destroy 3.0, show 2.0, list 1.0, search 10 per minute per
 * IP; vast audit #3). The simulator runs them at a tenth of the real intervals here.
 */
const SCALE = 0.1;
const sim = new VastAiSim({ seed: 5, offers: 200, paceScale: SCALE });
const state = useSim(sim);

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${state.url}${path}`, {
    method,
    headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const createBody = { image: 'ubuntu:22.04', disk: 20, label: 'x', runtype: 'args', env: {} };

describe('the Vast simulator enforces minimum intervals (rate-limits-and-errors.mdx)', () => {
  it.each([
    ['show', 'GET', '/api/v0/instances/1/', 2_000],
    ['list', 'GET', '/api/v1/instances/?limit=25', 1_000],
  ])(
    '%s: a second request inside %s·threshold is 429 plain text without Retry-After; after it, served',
    async (_name, method, path, intervalMs) => {
      expect((await call(method, path)).status).not.toBe(429);
      const refused = await call(method, path);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBeNull();
      expect(await refused.text()).toMatch(/^API requests too frequent endpoint threshold=/);
      // The refused request counts too (the stricter reading): wait a full interval from it.
      await sleep(intervalMs * SCALE + 50);
      expect((await call(method, path)).status).not.toBe(429);
    },
  );

  it('destroy: 429 in the JSON envelope the docs show', async () => {
    await call('DELETE', '/api/v0/instances/1/');
    const refused = await call('DELETE', '/api/v0/instances/1/');
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({
      success: false,
      error: 'rate_limit_exceeded',
      msg: 'API requests too frequent endpoint threshold=3.0',
    });
  });

  it('create: a request inside 4.5 s is refused and shuts create for the 12 s penalty', async () => {
    const penaltiesBefore = sim.ratePenalties();
    await call('PUT', '/api/v0/asks/1/', createBody);
    expect((await call('PUT', '/api/v0/asks/1/', createBody)).status).toBe(429);
    expect(sim.ratePenalties()).toBe(penaltiesBefore + 1);
    // Past the interval but inside the penalty: still refused (and the penalty runs again).
    await sleep(4_500 * SCALE + 50);
    expect((await call('PUT', '/api/v0/asks/1/', createBody)).status).toBe(429);
    await sleep(12_000 * SCALE + 50);
    expect((await call('PUT', '/api/v0/asks/1/', createBody)).status).not.toBe(429);
  });

  it('search: the 11th request in a minute from one IP is refused, whatever the key', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1) {
      const response = await fetch(`${state.url}/api/v0/bundles/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ limit: 1 }),
      });
      statuses.push(response.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses[10]).toBe(429);
    // The next test searches: let the minute run out.
    await sleep(60_000 * SCALE + 50);
  }, 30_000);
});

describe('the adapter paces to those intervals (ADR 0011)', () => {
  it('sends concurrent creates, shows and destroys one interval apart: no 429, no penalty', async () => {
    const provider = new VastAiProvider({
      baseUrl: state.url,
      apiKey: 'k',
      clusterId: 'pace',
      paceScale: SCALE,
    });
    // Let the earlier tests' intervals run out.
    await sleep(12_000 * SCALE);
    sim.reset();
    const offers = (await provider.listOffers(aRequirements('vastai'), {})).slice(0, 6);
    const rented = await Promise.all(
      offers.map((offer: Offer) => provider.create(offer, aLaunch(), aTag('pace'), {})),
    );
    const ids = rented.flatMap((r) => (r.outcome === 'created' ? [r.instance.id] : []));
    await Promise.all(ids.map((id) => provider.get(id, {})));
    await Promise.all(ids.map((id) => provider.destroy(id, {})));
    expect(ids.length).toBeGreaterThanOrEqual(4);
    expect(sim.ratePenalties()).toBe(0);
    expect(sim.limitedCount()).toBe(0);
  }, 60_000);
});
