import { setTimeout as sleepTimer } from 'node:timers/promises';
import { AnexError } from '../../errors.ts';
import type { RequestPacer } from '../http/http-client.ts';

/**
 * RunPod tells its budget on every answer (v2 `RateLimit: "minute";r=0;t=12, "hour";r=2800;t=1812,
 * …`: remaining and seconds to reset per window; providers.md §3.3). When a window has nothing
 * left, no request goes until it resets — a 429 would only cost a round trip, and a long
 * `Retry-After` (the hour or day window) fails every call, destroys included, until then.
 * Held per process and origin: every RunPod adapter of the process shares what it learned.
 */
export class RateLimitHeaderPacer implements RequestPacer {
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #state: { blockedUntil: number };

  constructor(options: {
    origin: string;
    now?: () => number;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  }) {
    this.#now = options.now ?? Date.now;
    this.#sleep =
      options.sleep ??
      (async (ms, signal) => {
        await sleepTimer(ms, undefined, signal ? { signal } : {});
      });
    const known = shared.get(options.origin);
    this.#state = known ?? { blockedUntil: 0 };
    if (known === undefined) shared.set(options.origin, this.#state);
  }

  async acquire(
    _endpoint: string,
    options: { signal?: AbortSignal | undefined; deadline?: number | undefined },
  ): Promise<void> {
    const now = this.#now();
    const wait = this.#state.blockedUntil - now;
    if (wait <= 0) return;
    if (options.deadline !== undefined && now + wait > options.deadline) {
      throw new AnexError(
        `runpod: the rate-limit window resets in ${Math.ceil(wait / 1000)} s, past this call's deadline; nothing was sent`,
        { kind: 'rate-limited', retryable: true },
      );
    }
    try {
      await this.#sleep(wait, options.signal);
    } catch (error) {
      throw new AnexError('runpod: aborted while waiting for the rate-limit window; nothing was sent', {
        kind: 'rate-limited',
        retryable: true,
        cause: error,
      });
    }
  }

  observe(_endpoint: string, response: { status: number; headers: Headers }): void {
    const now = this.#now();
    for (const window of parseRateLimit(response.headers.get('ratelimit'))) {
      if (window.remaining <= 0) this.#hold(now + window.resetSeconds * 1000);
    }
  }

  /** `Retry-After` is RunPod's own answer to a 429; the client waits it. */
  minRetryDelayMs(): number {
    return 0;
  }

  #hold(until: number): void {
    this.#state.blockedUntil = Math.max(this.#state.blockedUntil, until);
  }
}

const shared = new Map<string, { blockedUntil: number }>();

/** `"minute";r=0;t=12, "hour";r=2800;t=1812` → windows; unreadable parts are skipped. */
export function parseRateLimit(
  value: string | null,
): { name: string; remaining: number; resetSeconds: number }[] {
  if (value === null) return [];
  const windows: { name: string; remaining: number; resetSeconds: number }[] = [];
  for (const part of value.split(',')) {
    const match = /^\s*"([^"]+)"\s*;\s*r=(\d+)\s*;\s*t=(\d+)\s*$/.exec(part);
    if (match === null) continue;
    windows.push({ name: match[1] as string, remaining: Number(match[2]), resetSeconds: Number(match[3]) });
  }
  return windows;
}
