import type { DownMode, Fault, FaultRates } from './faults.ts';
import type { SimResponse } from './http-server.ts';
import type { RateLimit } from './rate-limit.ts';
import {
  type SimAdmin,
  SimCore,
  type SimCoreOptions,
  type SimInstanceSummary,
  type SimRoute,
  type VendorStyle,
} from './sim-core.ts';

/** What a vendor simulator hands its base: its state, routes and answer style. */
export interface SimParts<S> {
  core: SimCoreOptions;
  /** @default 0 (a free port) */
  port: number | undefined;
  /** A new state as at construction; reset() refills the one state object with it. */
  fresh: () => S;
  routes: (state: S) => readonly SimRoute[];
  style: VendorStyle;
  /** How the leak check names the simulator and one of its instances, e.g. `<vendor> simulator`, `pod`. */
  leak: { who: string; unit: string };
}

/**
 * The lifecycle, fault, rate-limit and leak-check surface both simulators share; a vendor
 * subclass adds its own knobs, its instance view and its admin actions.
 */
export abstract class SimBase<S extends object> implements SimAdmin {
  protected readonly core: SimCore;
  /** One object for the life of the simulator; reset() refills it, so routes keep their reference. */
  protected readonly state: S;
  readonly #parts: SimParts<S>;

  constructor(parts: SimParts<S>) {
    this.#parts = parts;
    this.state = parts.fresh();
    this.core = new SimCore(parts.core, {
      routes: parts.routes(this.state),
      style: parts.style,
      admin: this,
    });
  }

  async start(): Promise<string> {
    await this.core.server.listen(this.#parts.port ?? 0);
    return this.url;
  }

  async stop(): Promise<void> {
    await this.core.server.close();
  }

  get url(): string {
    return this.core.server.url;
  }

  inject(fault: Fault): void {
    this.core.faults.inject(fault);
  }

  setFaultRates(rates: FaultRates): void {
    this.core.faults.setRates(rates);
  }

  /** A test's fixed-window limit on `endpoint`, checked before the vendor's own; undefined removes it. */
  setRateLimit(endpoint: string, limit: RateLimit | undefined): void {
    this.core.limiter.set(endpoint, limit);
  }

  setDown(mode: DownMode): Promise<void> {
    return this.core.setDown(mode);
  }

  /** Facts about the marketplace served at GET /__sim/info (e.g. `registry`: its image registry's URL). */
  setInfo(info: Record<string, string>): void {
    this.core.info = { ...info };
  }

  /** Requests that reached route `name` (e.g. `create`) since the simulator started. */
  requestCount(name: string): number {
    return this.core.requestCount(name);
  }

  /** When each request to route `name` arrived (wall-clock ms). */
  requestTimes(name: string): readonly number[] {
    return this.core.requestTimes(name);
  }

  /** Every instance not destroyed: the leak check. */
  abstract liveInstances(): SimInstanceSummary[];

  abstract adminAction(name: string, body: unknown): SimResponse | undefined;

  /** Throws when any instance is still alive (use in afterEach). */
  assertNoInstances(): void {
    const live = this.liveInstances();
    if (live.length > 0) {
      const { who, unit } = this.#parts.leak;
      throw new Error(`${who}: ${live.length} ${unit}(s) leaked: ${JSON.stringify(live)}`);
    }
  }

  reset(): void {
    Object.assign(this.state, this.#parts.fresh());
    this.core.faults.clear();
    this.core.limiter.reset();
  }
}
