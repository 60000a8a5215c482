import type { RateStore } from '../../state/store.ts';

/**
 * Rate limiting per key (route + pod UID) for the agent endpoint, in two places:
 * - `rateLimiter` (`tokenBucketLimiter`, in memory), before authentication: refuses a flood
 *   from one client without any I/O, but on Lambda each execution environment keeps its own
 *   buckets (and a cold start forgets);
 * - `sharedLimiter` (`storeRateLimiter`, in the state table), after authentication: one limit
 *   across every environment, at one conditional write per request — only for callers that
 *   proved who they are, so unauthenticated traffic can never make the table grow.
 */
export interface RateLimiter {
  /** Takes one request of `key` at `now`; false when its limit is used up. */
  take(key: string, now: number): Promise<boolean>;
}

export interface TokenBucketOptions {
  /** burst size @default 20 */
  capacity?: number;
  /** tokens added per second @default 1 */
  refillPerSecond?: number;
  /** keys kept before the least recently used are dropped @default 10000 */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function tokenBucketLimiter(options: TokenBucketOptions = {}): RateLimiter {
  const capacity = options.capacity ?? 20;
  const refill = options.refillPerSecond ?? 1;
  const maxKeys = options.maxKeys ?? 10_000;
  const buckets = new Map<string, Bucket>();
  return {
    async take(key, now) {
      const bucket = buckets.get(key) ?? { tokens: capacity, at: now };
      buckets.delete(key); // re-insert: Map order doubles as LRU order
      const tokens = Math.min(capacity, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * refill);
      const allowed = tokens >= 1;
      buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now });
      if (buckets.size > maxKeys) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
      return allowed;
    },
  };
}

export interface StoreLimiterOptions {
  /** requests per key per window @default 60 */
  limit?: number;
  /** @default 60_000 */
  windowMs?: number;
}

/**
 * A fixed-window limit per key kept in the store, so every process serving the endpoint
 * shares it: at most `limit` requests per key per window (bursts of up to twice that across
 * a window boundary, the usual fixed-window trade for one write per request).
 */
export function storeRateLimiter(store: RateStore, options: StoreLimiterOptions = {}): RateLimiter {
  const limit = options.limit ?? 60;
  const windowMs = options.windowMs ?? 60_000;
  return {
    take(key, now) {
      const start = Math.floor(now / windowMs) * windowMs;
      return store.countRequest(key, { start, ms: windowMs, limit });
    },
  };
}

/**
 * Both limits for `key` (`sharedLimiter` only when given): the in-memory one before the caller
 * is authenticated, the shared one after. @returns true when the request may go on
 */
export async function withinLimit(
  deps: { rateLimiter: RateLimiter; sharedLimiter?: RateLimiter; now: () => number },
  key: string,
  stage: 'before-auth' | 'after-auth',
): Promise<boolean> {
  if (stage === 'before-auth') return deps.rateLimiter.take(key, deps.now());
  return deps.sharedLimiter === undefined ? true : deps.sharedLimiter.take(key, deps.now());
}

/**
 * The key of the limit before authentication (L2 of the 2026-12 audit): the route, the caller's
 * address and the pod. A flood from one address drains only that address's buckets, so nobody
 * who merely knows a pod UID can lock its agent out; agents behind one NAT address do not share
 * a bucket. Without an address (a front end that does not say) the route and pod, as before.
 */
export function preAuthKey(request: { sourceIp?: string }, route: string, podUid: string): string {
  return request.sourceIp === undefined ? `${route}:${podUid}` : `${route}:${request.sourceIp}:${podUid}`;
}
