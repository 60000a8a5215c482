import type { RateDecision, RateLimit } from '../common/rate-limit.ts';
import { RateLimiter } from '../common/rate-limit.ts';
import type { SimLimiter } from '../common/sim-core.ts';

/**
 * Vast's rate limits as its docs state them (vast-ai/docs `api-reference/rate-limits-and-errors.mdx`
 * and the `x-rate-limit` blocks of `api-reference/openapi/yaml/*.yaml`; providers.md §2.2):
 * a minimum interval between requests per endpoint and identity, no `Retry-After`, a penalty
 * on create, and search at 10 requests per minute per IP. Where the docs are thin the
 * stricter reading is modelled and named here:
 * - "threshold" is seconds;
 * - a refused request counts as a request: the interval runs again from it;
 * - a refused create shuts create for `penalty` seconds;
 * - search counts every caller on the IP (the simulator's clients all share 127.0.0.1), in a
 *   rolling minute.
 */
export const VAST_LIMITS: Readonly<Record<string, { intervalMs: number; penaltyMs?: number }>> = {
  create: { intervalMs: 4_500, penaltyMs: 12_000 },
  destroy: { intervalMs: 3_000 },
  show: { intervalMs: 2_000 },
  list: { intervalMs: 1_000 },
};
export const VAST_SEARCH_PER_MINUTE = 10;

export interface VastLimiterOptions {
  /** Multiplies every interval, penalty and the search minute (tests). @default 1 */
  scale?: number;
  /** false: no limits at all (a test about something else says why). @default true */
  enabled?: boolean;
  /** fixed windows checked first (the simulator's `rateLimits` option) */
  overrides?: Readonly<Record<string, RateLimit>>;
  now: () => number;
}

/**
 * The simulator's Vast limits ({@link VAST_LIMITS}), with the fixed-window overrides tests
 * set through `setRateLimit` consulted first.
 */
export class VastLimiter implements SimLimiter {
  readonly #scale: number;
  readonly #enabled: boolean;
  readonly #now: () => number;
  readonly #overrides: RateLimiter;
  /** per endpoint+key: when the last request came and until when the endpoint is shut */
  readonly #last = new Map<string, { at: number; shutUntil: number }>();
  #searches: number[] = [];
  /** 429s that shut create for the penalty: the e2e asserts there are none */
  penalties = 0;
  /** every 429 of Vast's own limits */
  refusals = 0;
  /** those 429s by endpoint */
  readonly refusalsBy = new Map<string, number>();

  constructor(options: VastLimiterOptions) {
    this.#scale = options.scale ?? 1;
    this.#enabled = options.enabled ?? true;
    this.#now = options.now;
    this.#overrides = new RateLimiter(options.overrides ?? {}, options.now);
  }

  set(endpoint: string, limit: RateLimit | undefined): void {
    this.#overrides.set(endpoint, limit);
  }

  reset(): void {
    this.#overrides.reset();
    this.#last.clear();
    this.#searches = [];
    this.penalties = 0;
    this.refusals = 0;
    this.refusalsBy.clear();
  }

  check(endpoint: string, key: string): RateDecision | undefined {
    const override = this.#overrides.check(endpoint, key);
    if (override?.limited) return override;
    if (!this.#enabled) return override;
    const now = this.#now();
    if (endpoint === 'search') return this.#search(now);
    const limit = VAST_LIMITS[endpoint];
    if (limit === undefined) return override;
    const id = `${endpoint}\u0000${key}`;
    const last = this.#last.get(id);
    const interval = limit.intervalMs * this.#scale;
    const limited = last !== undefined && (now - last.at < interval || now < last.shutUntil);
    let shutUntil = last?.shutUntil ?? 0;
    if (limited && limit.penaltyMs !== undefined) {
      shutUntil = Math.max(shutUntil, now + limit.penaltyMs * this.#scale);
      this.penalties += 1;
    }
    this.#last.set(id, { at: now, shutUntil });
    if (limited) this.#refused(endpoint);
    return decision(limited, Math.max(interval, shutUntil - now));
  }

  #refused(endpoint: string): void {
    this.refusals += 1;
    this.refusalsBy.set(endpoint, (this.refusalsBy.get(endpoint) ?? 0) + 1);
  }

  #search(now: number): RateDecision {
    const minute = 60_000 * this.#scale;
    this.#searches = this.#searches.filter((at) => now - at < minute);
    this.#searches.push(now);
    const limited = this.#searches.length > VAST_SEARCH_PER_MINUTE;
    if (limited) this.#refused('search');
    return decision(limited, minute - (now - (this.#searches[0] ?? now)));
  }
}

function decision(limited: boolean, waitMs: number): RateDecision {
  return { limited, remaining: limited ? 0 : 1, resetSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}
