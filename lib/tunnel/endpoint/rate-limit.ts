/**
 * Token-bucket rate limiting per key (the pod UID), in memory.
 *
 * Limitation on Lambda: each concurrent execution environment has its own buckets, so the
 * effective limit is `capacity × concurrent environments`, and a cold start forgets. That
 * still bounds a misbehaving agent's cost per environment; a hard global limit needs the
 * function's reserved concurrency (or a WAF rate rule on the Function URL's front).
 */
export interface RateLimiter {
  /** Takes one token for `key` at `now`; false when the bucket is empty. */
  take(key: string, now: number): boolean;
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
    take(key, now) {
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
