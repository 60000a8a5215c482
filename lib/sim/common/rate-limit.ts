/** A per-endpoint limit: at most `limit` requests per `windowMs` per API key. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

export interface RateDecision {
  limited: boolean;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

/** Fixed-window counters per (endpoint, key), on an injectable clock. */
export class RateLimiter {
  readonly #limits: Map<string, RateLimit>;
  readonly #windows = new Map<string, { start: number; count: number }>();
  readonly #now: () => number;

  constructor(limits: Readonly<Record<string, RateLimit>>, now: () => number) {
    this.#limits = new Map(Object.entries(limits));
    this.#now = now;
  }

  set(endpoint: string, limit: RateLimit | undefined): void {
    if (limit) this.#limits.set(endpoint, limit);
    else this.#limits.delete(endpoint);
  }

  check(endpoint: string, key: string): RateDecision | undefined {
    const limit = this.#limits.get(endpoint);
    if (!limit) return undefined;
    const now = this.#now();
    const id = `${endpoint}\u0000${key}`;
    let window = this.#windows.get(id);
    if (!window || now - window.start >= limit.windowMs) {
      window = { start: now, count: 0 };
      this.#windows.set(id, window);
    }
    window.count += 1;
    const resetSeconds = Math.max(1, Math.ceil((window.start + limit.windowMs - now) / 1000));
    return {
      limited: window.count > limit.limit,
      remaining: Math.max(0, limit.limit - window.count),
      resetSeconds,
    };
  }

  reset(): void {
    this.#windows.clear();
  }
}
