import { describe, expect, it } from 'vitest';
import { RunPodProvider } from '../../lib/providers/runpod/provider.ts';
import { parseRateLimit } from '../../lib/providers/runpod/rate-pacer.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * RunPod REST v2 rate limits (`api-reference-v2/openapi.json`: `RateLimitHeader` /
 * `RateLimitPolicyHeader`, example `"minute";q=60;w=60, "hour";q=3000;w=3600,
 * "day";q=50000;w=86400`; 429 with `Retry-After` and "rate limit exceeded for the minute
 * window"; runpod audit #10). The simulator runs the minute at a twentieth here.
 */
const SCALE = 0.05;
const sim = new RunPodSim({ seed: 5, paceScale: SCALE });
const state = useSim(sim);

async function get(key: string): Promise<Response> {
  return fetch(`${state.url}/v2/pods`, { headers: { authorization: `Bearer ${key}` } });
}

describe('the RunPod simulator counts 60 requests a minute per key, every endpoint together', () => {
  it('answers RateLimit and RateLimit-Policy on every call, and the 61st is 429 with Retry-After', async () => {
    const first = await get('limits-a');
    expect(first.headers.get('ratelimit-policy')).toBe(
      '"minute";q=60;w=3, "hour";q=3000;w=180, "day";q=50000;w=4320',
    );
    expect(parseRateLimit(first.headers.get('ratelimit'))[0]).toMatchObject({
      name: 'minute',
      remaining: 59,
    });
    for (let i = 0; i < 59; i++) expect((await get('limits-a')).status).toBe(200);
    const refused = await get('limits-a');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({
      status: 429,
      detail: 'rate limit exceeded for the minute window',
    });
    // Another key has its own budget.
    expect((await get('limits-b')).status).toBe(200);
  });
});

describe('the adapter keeps to the budget the headers tell (ADR 0011)', () => {
  it('waits for the window when it is spent instead of drawing 429s', async () => {
    sim.reset();
    const provider = new RunPodProvider({ baseUrl: state.url, apiKey: 'limits-c' });
    for (let i = 0; i < 75; i++) await provider.get('missing-pod', {});
    expect(sim.requestCount('get')).toBeGreaterThanOrEqual(75);
    expect(sim.limitedCount()).toBe(0);
  }, 60_000);
});
