import { setTimeout as sleepTimer } from 'node:timers/promises';
import { AnexError, InvalidInputError } from '../../errors.ts';
import { MemoryPaceLedger } from '../../state/memory-pace.ts';
import type { PaceStore } from '../../state/store.ts';
import type { RequestPacer } from '../http/http-client.ts';

/** One rate-limit bucket of a vendor: requests at least `intervalMs` apart. */
export interface PaceRule {
  intervalMs: number;
  /** how long the vendor refuses the bucket after a 429 (Vast create: 12 s); unset: one interval */
  penaltyMs?: number;
}

export interface IntervalPacerOptions {
  /** ledger key prefix naming the identity whose budget this is, e.g. `vastai` */
  prefix: string;
  /** per endpoint named on {@link import('../http/http-client.ts').HttpRequest.endpoint} */
  rules: Readonly<Record<string, PaceRule>>;
  /** where slots are kept: the state table when processes share a budget (ADR 0011) */
  ledger?: PaceStore;
  /**
   * Multiplies every interval and penalty. Below 1 only against a simulator that runs its
   * limits on the same factor (tests); the adapters force 1 for the real service. @default 1
   */
  scale?: number;
  /**
   * Added to every interval: the vendor measures arrivals, and a request that left on its
   * slot can arrive late while the one before it arrived early (a new TLS connection, a busy
   * event loop; ADR 0011 §4). @default 5% of the interval + 400 ms
   */
  guardMs?: (intervalMs: number) => number;
  /** a request with no deadline waits at most this long for its slot @default 300000 */
  maxWaitMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Minimum-interval pacing (GCRA without burst) over a shared ledger: every request of a
 * bucket takes the next slot, so all the work of every process with the same ledger stays
 * inside the vendor's interval and never draws a 429 in the first place. A slot that would
 * lie past the request's deadline is not taken: the request fails as `rate-limited` with
 * nothing sent, and its work is left for the next pass.
 */
export class IntervalPacer implements RequestPacer {
  readonly #o: Required<Omit<IntervalPacerOptions, 'ledger'>> & { ledger: PaceStore };

  constructor(options: IntervalPacerOptions) {
    const scale = options.scale ?? 1;
    if (!(scale > 0 && scale <= 1)) {
      throw new AnexError(`pace scale ${String(scale)} is not in (0, 1]`, { kind: 'invalid-input' });
    }
    this.#o = {
      ledger: options.ledger ?? processLedger,
      guardMs: (interval) => Math.ceil(interval * 0.05) + 400,
      maxWaitMs: 300_000,
      now: Date.now,
      sleep: async (ms, signal) => {
        await sleepTimer(ms, undefined, signal ? { signal } : {});
      },
      ...options,
      scale,
    };
  }

  async acquire(
    endpoint: string,
    options: { signal?: AbortSignal | undefined; deadline?: number | undefined },
  ): Promise<void> {
    const rule = this.#o.rules[endpoint];
    if (rule === undefined) return;
    const now = this.#o.now();
    const latest = options.deadline ?? now + this.#o.maxWaitMs;
    const interval = this.#scaled(rule.intervalMs);
    const slot = await this.#o.ledger.reserveSlot(this.#key(endpoint), {
      intervalMs: interval + this.#o.guardMs(interval),
      now,
      latest,
    });
    if (slot.kind === 'busy') {
      const seconds = Math.ceil((slot.freeAt - now) / 1000);
      throw new AnexError(
        `${this.#o.prefix} ${endpoint}: the next request slot is in ${seconds} s, past this call's deadline; nothing was sent`,
        { kind: 'rate-limited', retryable: true },
      );
    }
    const key = this.#key(endpoint);
    const spacing = interval + this.#o.guardMs(interval);
    const wait = slot.at - now;
    if (wait > 0) await this.#sleepUntilSlot(endpoint, wait, options.signal);
    // The vendor measures arrivals. A request of this process that went out late (a busy event
    // loop, a slow ledger) pushes the ones queued behind it: each waits a full interval after
    // the last one actually sent, and later reservations start from there too.
    const lastSent = lastSentOn(this.#o.ledger);
    const behind = (lastSent.get(key) ?? 0) + spacing - this.#o.now();
    if (behind > 0) await this.#sleepUntilSlot(endpoint, behind, options.signal);
    const sentAt = this.#o.now();
    lastSent.set(key, sentAt);
    if (sentAt - slot.at > LATE_MS) await this.#o.ledger.deferSlot(key, sentAt + spacing);
  }

  async #sleepUntilSlot(endpoint: string, wait: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.#o.sleep(wait, signal);
    } catch (error) {
      throw new AnexError(
        `${this.#o.prefix} ${endpoint}: aborted while waiting for its request slot; nothing was sent`,
        {
          kind: 'rate-limited',
          retryable: true,
          cause: error,
        },
      );
    }
  }

  async observe(endpoint: string, response: { status: number }): Promise<void> {
    const rule = this.#o.rules[endpoint];
    if (rule === undefined || response.status !== 429) return;
    // Another process outside the ledger, or a vendor stricter than its docs: hold the
    // whole bucket back, not just this request.
    await this.#o.ledger.deferSlot(this.#key(endpoint), this.#o.now() + this.minRetryDelayMs(endpoint));
  }

  minRetryDelayMs(endpoint: string): number {
    const rule = this.#o.rules[endpoint];
    return rule === undefined ? 0 : this.#scaled(rule.penaltyMs ?? rule.intervalMs);
  }

  #key(endpoint: string): string {
    return `${this.#o.prefix}/${endpoint}`;
  }

  #scaled(ms: number): number {
    return Math.ceil(ms * this.#o.scale);
  }
}

/** Lateness worth a ledger write: below it, the guard covers it. */
const LATE_MS = 10;

/** When this process last sent on each key of each ledger (every pacer of the process on that ledger shares it). */
const lastSentByLedger = new WeakMap<PaceStore, Map<string, number>>();

function lastSentOn(ledger: PaceStore): Map<string, number> {
  let sent = lastSentByLedger.get(ledger);
  if (sent === undefined) {
    sent = new Map();
    lastSentByLedger.set(ledger, sent);
  }
  return sent;
}

/** One ledger for every pacer of this process that has no shared store. */
const processLedger = new MemoryPaceLedger();

/**
 * Multiplies the vendors' rate-limit intervals, in (0, 1], for a simulator that runs its
 * limits on the same factor (the simulators read it too). Tests only: the adapters ignore it
 * when they talk to the real service.
 */
export const PACE_SCALE_ENV = 'ANEX_SIM_PACE_SCALE';

/** @throws InvalidInputError naming the variable when it is not a number in (0, 1] */
export function paceScaleFromEnv(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const value = env[PACE_SCALE_ENV]?.trim();
  if (!value) return undefined;
  const scale = Number(value);
  if (!(scale > 0 && scale <= 1)) {
    throw new InvalidInputError([
      `${PACE_SCALE_ENV}: ${JSON.stringify(value)} is not a factor in (0, 1] (e.g. 0.05 runs the simulators' rate limits 20× faster)`,
    ]);
  }
  return scale;
}
