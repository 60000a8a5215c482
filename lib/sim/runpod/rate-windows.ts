import { type RateDecision, type RateLimit, RateLimiter } from '../common/rate-limit.ts';
import type { SimLimiter } from '../common/sim-core.ts';

/**
 * RunPod REST v2's rate limits as its spec gives them (`api-reference-v2/openapi.json`,
 * `RateLimitPolicyHeader` example: `"minute";q=60;w=60, "hour";q=3000;w=3600,
 * "day";q=50000;w=86400`; runpod audit #10): per key, across every endpoint, in fixed windows.
 * The figures are the spec's example, not a promise (providers.md §3.3): modelled as the limit,
 * the stricter reading.
 */
export const RUNPOD_WINDOWS: readonly { name: string; limit: number; seconds: number }[] = [
  { name: 'minute', limit: 60, seconds: 60 },
  { name: 'hour', limit: 3_000, seconds: 3_600 },
  { name: 'day', limit: 50_000, seconds: 86_400 },
];

/** One window as the `RateLimit` / `RateLimit-Policy` headers describe it. */
export interface WindowState {
  name: string;
  /** quota */
  q: number;
  /** window length, seconds */
  w: number;
  /** remaining */
  r: number;
  /** seconds until it resets */
  t: number;
}

export interface RunPodDecision extends RateDecision {
  windows: WindowState[];
  /** the window that refused, when limited */
  refusedBy?: string;
}

/**
 * Every request of a key counts in each window (refused ones too: the stricter reading); the
 * first full window refuses with its reset as `Retry-After`. Tests' fixed-window overrides
 * (`setRateLimit`, per endpoint) are checked first.
 */
export class RunPodLimiter implements SimLimiter {
  readonly #scale: number;
  readonly #enabled: boolean;
  readonly #now: () => number;
  readonly #overrides: RateLimiter;
  readonly #counts = new Map<string, { start: number; count: number }>();
  refusals = 0;

  constructor(options: {
    now: () => number;
    scale?: number;
    enabled?: boolean;
    overrides?: Readonly<Record<string, RateLimit>>;
  }) {
    this.#now = options.now;
    this.#scale = options.scale ?? 1;
    this.#enabled = options.enabled ?? true;
    this.#overrides = new RateLimiter(options.overrides ?? {}, options.now);
  }

  set(endpoint: string, limit: RateLimit | undefined): void {
    this.#overrides.set(endpoint, limit);
  }

  reset(): void {
    this.#overrides.reset();
    this.#counts.clear();
    this.refusals = 0;
  }

  check(endpoint: string, key: string): RunPodDecision | undefined {
    const override = this.#overrides.check(endpoint, key);
    if (!this.#enabled) return override === undefined ? undefined : { ...override, windows: [] };
    const now = this.#now();
    const windows: WindowState[] = [];
    let refusedBy: string | undefined;
    for (const window of RUNPOD_WINDOWS) {
      const ms = window.seconds * 1000 * this.#scale;
      const id = `${window.name}\u0000${key}`;
      let counted = this.#counts.get(id);
      if (counted === undefined || now - counted.start >= ms) {
        counted = { start: now, count: 0 };
        this.#counts.set(id, counted);
      }
      counted.count += 1;
      const t = Math.max(1, Math.ceil((counted.start + ms - now) / 1000));
      const w = Math.max(1, Math.round(ms / 1000));
      windows.push({
        name: window.name,
        q: window.limit,
        w,
        r: Math.max(0, window.limit - counted.count),
        t,
      });
      if (counted.count > window.limit && refusedBy === undefined) refusedBy = window.name;
    }
    if (override?.limited) return { ...override, windows };
    const refused = windows.find((w) => w.name === refusedBy);
    if (refused !== undefined) this.refusals += 1;
    const minute = windows[0] as WindowState;
    return {
      limited: refused !== undefined,
      remaining: minute.r,
      resetSeconds: (refused ?? minute).t,
      windows,
      ...(refusedBy === undefined ? {} : { refusedBy }),
    };
  }
}

/** `RateLimit` and `RateLimit-Policy` as the v2 spec's headers word them. */
export function rateLimitHeaders(decision: RateDecision | undefined): Record<string, string> {
  const windows = (decision as RunPodDecision | undefined)?.windows ?? [];
  if (windows.length === 0) return {};
  return {
    RateLimit: windows.map((w) => `"${w.name}";r=${w.r};t=${w.t}`).join(', '),
    'RateLimit-Policy': windows.map((w) => `"${w.name}";q=${w.q};w=${w.w}`).join(', '),
  };
}
