import type { PaceRule } from '../pacing/interval-pacer.ts';

/**
 * Vast's rate limits: a minimum interval per endpoint and identity, no `Retry-After`
 * (vast-ai/docs `api-reference/rate-limits-and-errors.mdx`; the `x-rate-limit` blocks of
 * `api-reference/openapi/yaml/*.yaml`, providers.md §2.2). "threshold" is read as seconds —
 * the stricter of the readings. Search is "10 requests per minute per IP": one request per
 * 6 s never exceeds it, in a rolling window or a fixed one.
 */
export const VAST_PACE: Readonly<Record<VastEndpoint, PaceRule>> = {
  create: { intervalMs: 4_500, penaltyMs: 12_000 },
  destroy: { intervalMs: 3_000 },
  show: { intervalMs: 2_000 },
  list: { intervalMs: 1_000 },
  search: { intervalMs: 6_000 },
};

export type VastEndpoint = 'create' | 'destroy' | 'show' | 'list' | 'search';
