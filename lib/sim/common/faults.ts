import type { Rng } from './rng.ts';

/**
 * What an injected fault does to one request.
 * - `status`: answer this HTTP status (vendor-shaped body) instead of the real answer.
 * - `rate-limit`: answer the vendor's 429.
 * - `hang`: never answer (the client's timeout fires).
 * - `reset`: drop the connection.
 * With `after: true` the request is processed first (an instance may exist) and only the
 * answer is lost or replaced: the "unknown outcome" case of a create.
 */
export interface Fault {
  /** Endpoint name of the simulator (e.g. `create`, `show`), or `*` for any. */
  endpoint: string;
  action: 'status' | 'rate-limit' | 'hang' | 'reset';
  status?: number;
  after?: boolean;
  /** How many matching requests it applies to. @default 1 */
  count?: number;
}

/** Probabilities per request, rolled with the simulator's seeded RNG. */
export interface FaultRates {
  rate429?: number;
  rate5xx?: number;
  /** Fraction of requests that never get an answer. */
  timeoutRate?: number;
  /** Added to every request, ms. */
  latencyMs?: number;
}

export type DownMode = false | '503' | 'refuse';

export class FaultBox {
  readonly #queue: Required<Fault>[] = [];
  #rates: FaultRates = {};
  readonly #rng: Rng;

  constructor(rng: Rng) {
    this.#rng = rng;
  }

  inject(fault: Fault): void {
    this.#queue.push({ status: 500, after: false, count: 1, ...fault });
  }

  setRates(rates: FaultRates): void {
    this.#rates = { ...rates };
  }

  get latencyMs(): number {
    return this.#rates.latencyMs ?? 0;
  }

  /** The fault for this request, if any: queued faults first, then the random rates. */
  take(endpoint: string): Required<Fault> | undefined {
    const index = this.#queue.findIndex((f) => f.endpoint === endpoint || f.endpoint === '*');
    const queued = this.#queue[index];
    if (queued) {
      queued.count -= 1;
      if (queued.count <= 0) this.#queue.splice(index, 1);
      return queued;
    }
    return this.#roll(endpoint);
  }

  #roll(endpoint: string): Required<Fault> | undefined {
    const { rate429 = 0, rate5xx = 0, timeoutRate = 0 } = this.#rates;
    if (rate429 + rate5xx + timeoutRate === 0) return undefined;
    const roll = this.#rng.next();
    const base = { endpoint, after: false, count: 1, status: 503 };
    if (roll < rate429) return { ...base, action: 'rate-limit' };
    if (roll < rate429 + rate5xx)
      return { ...base, action: 'status', status: this.#rng.pick([500, 502, 503]) };
    if (roll < rate429 + rate5xx + timeoutRate) return { ...base, action: 'hang' };
    return undefined;
  }

  clear(): void {
    this.#queue.length = 0;
    this.#rates = {};
  }
}
